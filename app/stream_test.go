package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/internal/memstore"
)

// follower collects what a stream sends.
type follower struct {
	got chan []duban.Event
}

func follow(t *testing.T, s *app.Service, by duban.Principal, from int64) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{got: make(chan []duban.Event, 100)}
	st, err := s.Stream(ctx, by, from)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for {
			events, err := st.Next(ctx)
			if err != nil {
				done <- err
				return
			}
			f.got <- events
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("the stream ended with %v", err)
		}
	})
	return f
}

// next returns the events the stream sends until it has n, failing after a second.
func (f *follower) next(t *testing.T, n int) []duban.Event {
	t.Helper()
	var out []duban.Event
	timeout := time.After(time.Second)
	for len(out) < n {
		select {
		case events := <-f.got:
			out = append(out, events...)
		case <-timeout:
			t.Fatalf("the stream sent %d events, want %d", len(out), n)
		}
	}
	return out
}

func (f *follower) quiet(t *testing.T) {
	t.Helper()
	select {
	case events := <-f.got:
		t.Fatalf("the stream sent %d more events: %+v", len(events), events[0])
	case <-time.After(50 * time.Millisecond):
	}
}

// A stream sends each event once, in order, from now or from a position,
// and a unit only its own cases' events; a stream far behind the feed's
// memory catches up from the store.
func TestStream(t *testing.T) {
	store := memstore.New()
	feed := &app.Feed{Store: store, Poll: 5 * time.Millisecond, Keep: 3}
	s := &app.Service{Policy: duban.DefaultPolicy(), Store: store, Engine: &memstore.Engine{Store: store}, Feed: feed}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go feed.Run(ctx)

	first, err := s.Open(ctx, openCmd(), "") // littering: sanitation's
	if err != nil {
		t.Fatal(err)
	}
	sanitation := duban.Principal{ID: "sanitation-1", Role: duban.RoleUnit, Unit: "sanitation"}
	traffic := duban.Principal{ID: "traffic-police-1", Role: duban.RoleUnit, Unit: "traffic-police"}
	time.Sleep(20 * time.Millisecond) // the feed has read the open
	all, own, other := follow(t, s, supervisor, 0), follow(t, s, sanitation, 0), follow(t, s, traffic, 0)
	time.Sleep(20 * time.Millisecond)

	if _, err := s.Execute(ctx, first.Case.ID, duban.Urge{CommandMeta: duban.CommandMeta{By: supervisor}, Note: "today"}, ""); err != nil {
		t.Fatal(err)
	}
	got := all.next(t, 1)
	if got[0].Type != "CaseUrged" || got[0].CaseID != first.Case.ID {
		t.Fatalf("the supervisor's stream sent %+v", got[0])
	}
	if got := own.next(t, 1); got[0].Type != "CaseUrged" {
		t.Fatalf("sanitation's stream sent %+v", got[0])
	}
	other.quiet(t)
	all.quiet(t)

	// From a position long past (the feed keeps 3 events): everything after it, from the store.
	for range 4 {
		if _, err := s.Execute(ctx, first.Case.ID, duban.AddComment{CommandMeta: duban.CommandMeta{By: supervisor}, Text: "x"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	events, err := s.Events(ctx, supervisor, first.Case.ID)
	if err != nil {
		t.Fatal(err)
	}
	late := follow(t, s, supervisor, events[0].Position)
	resent := late.next(t, len(events)-1)
	for i, e := range resent {
		if e.ID != events[i+1].ID {
			t.Fatalf("resent event %d is %s %s, want %s", i, e.Type, e.ID, events[i+1].Type)
		}
	}
	late.quiet(t)
	all.next(t, 4)
	all.quiet(t)
}

func TestStreamFromNowhere(t *testing.T) {
	store := memstore.New()
	s := &app.Service{Policy: duban.DefaultPolicy(), Store: store, Feed: &app.Feed{Store: store}}
	for _, from := range []int64{-1, 99} {
		if _, err := s.Stream(context.Background(), supervisor, from); duban.ErrorCode(err) != duban.EINVALID {
			t.Errorf("a stream from %d: %v, want EINVALID", from, err)
		}
	}
}
