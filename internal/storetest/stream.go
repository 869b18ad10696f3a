package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// testLog reads the whole log in pages, from its start and from an event's
// position, each event once, with its case's unit now.
func testLog(t *testing.T, s Store) {
	ctx := context.Background()
	start, err := s.LogCursorAt(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{t: t, s: s}
	a := w.open(t0, "littering", "sanitation", "old-town", duban.SeverityNormal)
	b := w.open(t0, "orphan", "", "old-town", duban.SeverityNormal)
	w.do(a, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation}}, t0.Add(time.Minute), "ack")
	w.do(b, duban.Assign{CommandMeta: duban.CommandMeta{By: supervisor}, Unit: "traffic-police", Units: []string{"traffic-police"}}, t0.Add(time.Minute), "assign")

	var read []app.Logged
	for c := start; ; {
		page, err := s.Log(ctx, c, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("a page of 2 has %d events", len(page))
		}
		for _, l := range page {
			if !l.Cursor.After(c) {
				t.Fatalf("cursor %+v is not after %+v", l.Cursor, c)
			}
			c = l.Cursor
		}
		read = append(read, page...)
	}
	want := map[string]int{}
	for _, id := range []string{a, b} {
		events, err := s.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = len(events)
	}
	units := map[string]string{a: "sanitation", b: "traffic-police"}
	for _, l := range read {
		want[l.CaseID]--
		if l.Unit != units[l.CaseID] {
			t.Errorf("event %d of case %s comes with unit %q, want %q (its unit now)", l.Version, l.CaseID, l.Unit, units[l.CaseID])
		}
		if l.Type == "" || l.Data == nil {
			t.Errorf("event %+v is not whole", l.Event)
		}
	}
	for id, n := range want {
		if n != 0 {
			t.Errorf("case %s: %d events missing (negative: doubled) from the log", id, n)
		}
	}
	// From an event's position: the events after it.
	at, err := s.LogCursorAt(ctx, read[1].Position)
	if err != nil || at != read[1].Cursor {
		t.Fatalf("the cursor at position %d is %+v, %v; want %+v", read[1].Position, at, err, read[1].Cursor)
	}
	rest, err := s.Log(ctx, at, 100)
	if err != nil || len(rest) != len(read)-2 || rest[0].ID != read[2].ID {
		t.Fatalf("after position %d: %d events, %v; want %d", read[1].Position, len(rest), err, len(read)-2)
	}
	// The end now is past every event.
	end, err := s.LogCursorAt(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if after, err := s.Log(ctx, end, 100); err != nil || len(after) != 0 {
		t.Fatalf("after the end: %d events, %v", len(after), err)
	}
	if _, err := s.LogCursorAt(ctx, 1<<40); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("the cursor of a position with no event: %v, want ENOTFOUND", err)
	}
}

// testSessions keeps a session until it expires or is deleted.
func testSessions(t *testing.T, s Store) {
	ctx := context.Background()
	hash := bytes.Repeat([]byte{7}, 32)
	sess := app.StoredSession{Hash: hash, PrincipalID: "inspector-1", Expires: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, hash, t0)
	if err != nil || got.PrincipalID != "inspector-1" || !got.Expires.Equal(sess.Expires) {
		t.Fatalf("session: %+v, %v", got, err)
	}
	if _, err := s.Session(ctx, hash, t0.Add(time.Hour)); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("an expired session: %v, want ENOTFOUND", err)
	}
	if _, err := s.Session(ctx, bytes.Repeat([]byte{8}, 32), t0); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("no session: %v, want ENOTFOUND", err)
	}
	if err := s.DeleteSession(ctx, hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, hash, t0); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("a deleted session: %v, want ENOTFOUND", err)
	}
	if err := s.DeleteSession(ctx, hash); err != nil {
		t.Fatalf("deleting a session twice: %v", err)
	}
}

// testSignInFailures counts wrong passwords per key, starting again when
// the last was before the time given.
func testSignInFailures(t *testing.T, s Store) {
	ctx := context.Background()
	pair, addr := "user:inspector-1|from:203.0.113.7", "from:203.0.113.7"
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := s.FailSignIn(ctx, []string{pair, addr}, at, at.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FailSignIn(ctx, []string{addr}, t0.Add(3*time.Minute), t0.Add(3*time.Minute-time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.SignInFailures(ctx, []string{pair, addr, "from:198.51.100.1"})
	want := map[string]app.SignInFailures{pair: {N: 3, Last: t0.Add(2 * time.Minute)}, addr: {N: 4, Last: t0.Add(3 * time.Minute)}}
	if err != nil || len(got) != 2 || got[pair].N != 3 || !got[pair].Last.Equal(want[pair].Last) || got[addr].N != 4 || !got[addr].Last.Equal(want[addr].Last) {
		t.Fatalf("failures: %+v, %v; want %+v", got, err, want)
	}
	// A failure after since counts from one again.
	later := t0.Add(2*time.Minute + 61*time.Minute)
	if err := s.FailSignIn(ctx, []string{pair}, later, later.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SignInFailures(ctx, []string{pair}); got[pair].N != 1 {
		t.Fatalf("after since: %+v, want a count of 1", got[pair])
	}
	if err := s.ForgetSignInFailures(ctx, pair); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SignInFailures(ctx, []string{pair, addr}); len(got) != 1 || got[addr].N != 4 {
		t.Fatalf("after forgetting the pair: %+v", got)
	}
}

// testCaseCounts counts cases by status, and the overdue and escalated
// ones off the clock.
func testCaseCounts(t *testing.T, s Store) {
	w := &writer{t: t, s: s}
	w.open(t0, "littering", "sanitation", "old-town", duban.SeverityNormal) // acknowledge by t0+30m
	w.open(t0, "orphan", "", "old-town", duban.SeverityNormal)              // unrouted: no deadline here
	ack := w.open(t0, "littering", "sanitation", "old-town", duban.SeverityNormal)
	w.do(ack, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation}}, t0.Add(time.Minute), "ack") // resolve by t0+24h
	counts, err := s.CaseCounts(context.Background(), t0.Add(5*time.Hour))                                   // 4h30m past the first's deadline: level 2
	if err != nil {
		t.Fatal(err)
	}
	want := duban.CaseCounts{ByStatus: map[duban.Status]int{duban.StatusDispatched: 1, duban.StatusUnrouted: 1, duban.StatusInProgress: 1},
		Overdue: 1, Escalated: map[int]int{2: 1}}
	if !sameJSON(counts, want) {
		t.Fatalf("counts %+v, want %+v", counts, want)
	}
}
