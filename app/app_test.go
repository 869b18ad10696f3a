package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/internal/memstore"
)

var (
	inspector  = duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}
	supervisor = duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}
)

func openCmd() duban.OpenCase {
	return duban.OpenCase{CommandMeta: duban.CommandMeta{By: inspector}, Category: "littering", Description: "bags",
		Location: duban.Location{Lat: 39.9, Lon: 116.4}}
}

// engine is the in-memory engine with a hold on Execute and a fault on Open.
type engine struct {
	*memstore.Engine
	held     chan struct{} // Execute waits for it to close, when not nil
	entered  sync.WaitGroup
	openFail error // Open opens the case, then answers this
	ended    bool  // Execute answers ErrEnded
}

func (e *engine) Execute(ctx context.Context, caseID string, cmd duban.Command, commandID string) (duban.Case, error) {
	if e.held != nil {
		e.entered.Done()
		<-e.held
	}
	if e.ended {
		return duban.Case{}, fmt.Errorf("update: %w", app.ErrEnded)
	}
	return e.Engine.Execute(ctx, caseID, cmd, commandID)
}

func (e *engine) Open(ctx context.Context, cmd duban.OpenCase) (duban.Case, error) {
	c, err := e.Engine.Open(ctx, cmd)
	if e.openFail != nil {
		return duban.Case{}, e.openFail
	}
	return c, err
}

func newService() (*app.Service, *engine) {
	store := memstore.New()
	e := &engine{Engine: &memstore.Engine{Store: store}}
	return &app.Service{Policy: duban.DefaultPolicy(), Store: store, Engine: e}, e
}

// A case takes a few commands at a time; more are refused at once, not
// left to pile up in the engine.
func TestCommandsWaitingOnOneCaseAreBounded(t *testing.T) {
	s, e := newService()
	ctx := context.Background()
	a, err := s.Open(ctx, openCmd(), "")
	if err != nil {
		t.Fatal(err)
	}
	e.held = make(chan struct{})
	const inFlight = 4
	e.entered.Add(inFlight)
	errs := make(chan error, inFlight)
	comment := duban.AddComment{CommandMeta: duban.CommandMeta{By: supervisor}, Text: "seen"}
	for range inFlight {
		go func() {
			_, err := s.Execute(ctx, a.Case.ID, comment, "")
			errs <- err
		}()
	}
	e.entered.Wait()
	if _, err := s.Execute(ctx, a.Case.ID, comment, ""); duban.ErrorCode(err) != duban.ETOOMANY {
		t.Fatalf("a fifth command while four wait: %v", err)
	}
	other, _ := s.Open(ctx, openCmd(), "")
	e.entered.Add(1)
	go func() { _, err := s.Execute(ctx, other.Case.ID, comment, ""); errs <- err }()
	e.entered.Wait() // another case is not held up by this one's queue
	close(e.held)
	for range inFlight + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	e.held = nil
	if _, err := s.Execute(ctx, a.Case.ID, comment, ""); err != nil {
		t.Fatalf("once they are done: %v", err)
	}
}

// An open whose answer the engine lost (it opened the case, then timed
// out) is answered from the store when it carries its key.
func TestOpenAnsweredFromTheStore(t *testing.T) {
	s, e := newService()
	e.openFail = duban.Errorf(duban.EUNAVAILABLE, "the case engine did not answer in time")
	a, err := s.Open(context.Background(), openCmd(), "patrol-1")
	if err != nil || a.Created || a.Case.Status != duban.StatusDispatched {
		t.Fatalf("answered %+v, %v", a, err)
	}
	if _, err := s.Open(context.Background(), openCmd(), ""); duban.ErrorCode(err) != duban.EUNAVAILABLE {
		t.Fatalf("without a key, nothing says which case it was: %v", err)
	}
}

// A case whose writer ended while a command was on its way (the projection
// read before it still showed the case open): the case as stored now says
// why the command is refused, or, for a repeat of a command that was
// applied, what it answered.
func TestCommandOnAnEndedCase(t *testing.T) {
	s, e := newService()
	ctx := context.Background()
	a, _ := s.Open(ctx, openCmd(), "")
	id := a.Case.ID
	open, _ := s.Store.Case(ctx, id)
	cancel := duban.Cancel{CommandMeta: duban.CommandMeta{By: supervisor}, Reason: "not a problem"}
	if _, err := s.Execute(ctx, id, cancel, "cancel-1"); err != nil {
		t.Fatal(err)
	}
	e.ended = true
	store := s.Store
	s.Store = &staleOnce{Store: store, before: &open}
	comment := duban.AddComment{CommandMeta: duban.CommandMeta{By: supervisor}, Text: "seen"}
	if _, err := s.Execute(ctx, id, comment, ""); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("a comment on an ended case: %v", err)
	}
	s.Store = &staleOnce{Store: store, before: &open}
	repeat, err := s.Execute(ctx, id, cancel, "cancel-1")
	if err != nil || repeat.Case.Status != duban.StatusCancelled {
		t.Fatalf("the repeat: %+v, %v", repeat.Case, err)
	}
}

// staleOnce answers the first read of a case with the row it holds: the
// case as it was before its last command.
type staleOnce struct {
	app.Store
	before *app.Row
}

func (s *staleOnce) Case(ctx context.Context, id string) (app.Row, error) {
	if r := s.before; r != nil {
		s.before = nil
		return *r, nil
	}
	return s.Store.Case(ctx, id)
}

// While a dependency fails its check, commands are refused at once with
// 503, not left to time out on it; reads go on; once it answers again,
// commands do too.
func TestCommandsWaitForNoDependencyThatIsDown(t *testing.T) {
	s, _ := newService()
	var down atomic.Bool
	s.Dependencies = []app.Dependency{{Name: "database", Check: func(context.Context) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}}}
	s.Logger = slog.New(slog.DiscardHandler)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go s.Watch(ctx, 10*time.Millisecond)
	a, err := s.Open(ctx, openCmd(), "")
	if err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Open(ctx, openCmd(), "")
		if duban.ErrorCode(err) == duban.EUNAVAILABLE && duban.ErrorMessage(err) == "database is unavailable; try again shortly" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an open while the database is down: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	comment := duban.AddComment{CommandMeta: duban.CommandMeta{By: supervisor}, Text: "seen"}
	if _, err := s.Execute(ctx, a.Case.ID, comment, ""); duban.ErrorCode(err) != duban.EUNAVAILABLE {
		t.Fatalf("a command while the database is down: %v", err)
	}
	if _, err := s.CaseView(ctx, supervisor, a.Case.ID); err != nil {
		t.Fatalf("a read while the check fails: %v", err)
	}
	down.Store(false)
	for {
		if _, err := s.Execute(ctx, a.Case.ID, comment, ""); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("a command once the database is back: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Wrong passwords are counted in the store: behind several API processes,
// one guessed at through one is slowed down at the other, and only for
// that user from that address.
func TestSignInFailuresCountAcrossProcesses(t *testing.T) {
	store := memstore.New()
	now := time.Now()
	replica := func() *app.Service {
		return &app.Service{Policy: duban.DefaultPolicy(), Store: store, Sessions: store, Now: func() time.Time { return now }}
	}
	a, b := replica(), replica()
	ctx := context.Background()
	for range 4 {
		if _, err := a.SignIn(ctx, "inspector-1", "guess", "203.0.113.7"); duban.ErrorCode(err) != duban.EUNAUTHORIZED {
			t.Fatalf("a wrong password: %v", err)
		}
	}
	if _, err := b.SignIn(ctx, "inspector-1", "dev-inspector", "203.0.113.7"); duban.ErrorCode(err) != duban.ETOOMANY {
		t.Fatalf("the other process, the guesser's address: %v, want ETOOMANY", err)
	}
	if _, err := b.SignIn(ctx, "inspector-1", "dev-inspector", "198.51.100.20"); err != nil {
		t.Fatalf("the other process, the owner's address: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := b.SignIn(ctx, "inspector-1", "dev-inspector", "203.0.113.7"); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	if got, _ := store.SignInFailures(ctx, []string{"user:inspector-1|from:203.0.113.7"}); len(got) != 0 {
		t.Fatalf("a right password leaves the count %+v, want it forgotten", got)
	}
}
