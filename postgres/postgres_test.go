package postgres_test

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/duban/duban"
	"github.com/duban/duban/internal/pgtest"
	"github.com/duban/duban/internal/storetest"
	"github.com/duban/duban/postgres"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The PostgreSQL store keeps the contract of duban's event stores, as the
// in-memory one the workflow and handler tests use does.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return newStore(t) })
}

var (
	t0        = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	inspector = duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}
	unit      = duban.Principal{ID: "sanitation-1", Role: duban.RoleUnit, Unit: "sanitation"}
)

func newStore(t *testing.T) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrating twice: %v", err)
	}
	return s
}

// ackWithin is how long each category's cases have to be acknowledged in
// these tests, counted 24x7; each resolves in a day and verifies in 4 hours.
var ackWithin = map[string]time.Duration{
	"littering": 30 * time.Minute, "street-vending": 30 * time.Minute,
	"illegal-parking": 30 * time.Minute, "jaywalking": 2 * time.Hour,
}

func openCmd(id, category, area string) duban.OpenCase {
	terms := duban.Terms{
		SLA:      duban.SLA{Acknowledge: ackWithin[category], Resolve: 24 * time.Hour, Verify: 4 * time.Hour},
		Calendar: duban.Calendar{Kind: duban.Calendar24x7},
		Ladder:   duban.DefaultPolicy().Escalation,
	}
	unit, _ := duban.DefaultPolicy().Route(category, area)
	return duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: inspector},
		CaseID:      id, Category: category, Severity: duban.SeverityNormal,
		Description: "found on patrol", Location: duban.Location{Lat: 39.9, Lon: 116.4, Area: area},
		Unit: unit, Terms: terms,
	}
}

// do decides cmd on c at now and appends the events, as the workflow does.
func do(t *testing.T, s *postgres.Store, c duban.Case, cmd duban.Command, now time.Time, commandID string) (duban.Case, duban.Appended) {
	t.Helper()
	events, err := duban.Decide(c, cmd, now)
	if err != nil {
		t.Fatal(err)
	}
	id := c.ID
	if open, ok := cmd.(duban.OpenCase); ok {
		id = open.CaseID
	}
	out, err := s.Append(context.Background(), duban.Append{
		CaseID: id, ExpectedVersion: c.Version, CommandID: commandID, Events: events, Before: c,
	})
	if err != nil {
		t.Fatal(err)
	}
	return duban.Fold(c, out.Events), out
}

func TestAppendAndRead(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id := uuid.NewString()
	c, out := do(t, s, duban.Case{}, openCmd(id, "littering", "old-town"), t0, "open")
	if len(out.Events) != 2 || out.Events[0].Position <= 0 || out.Events[1].Position <= out.Events[0].Position {
		t.Fatalf("appended %+v", out)
	}
	c, _ = do(t, s, c, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit}}, t0.Add(time.Minute), "ack")

	row, err := s.Case(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := row.Case
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("projection\n got %+v\nwant %+v", got, c)
	}
	events, err := s.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("%d events", len(events))
	}
	for i, e := range events {
		if e.Version != int64(i+1) {
			t.Fatalf("event %d has version %d", i, e.Version)
		}
	}
	if folded := duban.Fold(duban.Case{}, events); !reflect.DeepEqual(folded, got) {
		t.Fatalf("the projection is not the fold of the events\n got %+v\nwant %+v", got, folded)
	}
	for _, missing := range []string{uuid.NewString(), "not-a-uuid", "'; DROP TABLE events; --"} {
		if _, err := s.Case(ctx, missing); duban.ErrorCode(err) != duban.ENOTFOUND {
			t.Errorf("Case(%q): %v", missing, err)
		}
		if _, err := s.Events(ctx, missing); duban.ErrorCode(err) != duban.ENOTFOUND {
			t.Errorf("Events(%q): %v", missing, err)
		}
	}
}

// A retried append whose first attempt committed writes nothing and returns
// what the first attempt stored, even if the retry decided at another time.
func TestAppendIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id := uuid.NewString()
	c, _ := do(t, s, duban.Case{}, openCmd(id, "littering", ""), t0, "open")
	first, _ := duban.Decide(c, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit}}, t0.Add(time.Minute))
	if _, err := s.Append(ctx, duban.Append{CaseID: id, ExpectedVersion: c.Version, CommandID: "ack", Events: first, Before: c}); err != nil {
		t.Fatal(err)
	}
	retry, _ := duban.Decide(c, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit}}, t0.Add(2*time.Minute))
	out, err := s.Append(ctx, duban.Append{CaseID: id, ExpectedVersion: c.Version, CommandID: "ack", Events: retry, Before: c})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 1 || !out.Events[0].OccurredAt.Equal(t0.Add(time.Minute)) || out.CommandIDs[0] != "ack" {
		t.Fatalf("retry returned %+v", out)
	}
	events, _ := s.Events(ctx, id)
	if len(events) != 3 {
		t.Fatalf("%d events after a retried append, want 3", len(events))
	}
	got, _ := s.Case(ctx, id)
	if !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("the retry changed the projection: %+v", got)
	}
}

func TestEventsAreAppendOnly(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id := uuid.NewString()
	do(t, s, duban.Case{}, openCmd(id, "littering", ""), t0, "open")
	for _, sql := range []string{
		`UPDATE events SET type = 'CaseClosed' WHERE case_id = '` + id + `'`,
		`DELETE FROM events`,
		`TRUNCATE events`,
	} {
		if err := s.Exec(ctx, sql); err == nil {
			t.Errorf("%s was allowed", sql)
		}
	}
}

func TestListFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var ids []string
	for i, spec := range []struct{ category, area string }{
		{"littering", "old-town"}, {"street-vending", "old-town"}, {"street-vending", "new-town"},
		{"illegal-parking", "new-town"}, {"littering", "new-town"},
	} {
		id := uuid.NewString()
		ids = append(ids, id)
		do(t, s, duban.Case{}, openCmd(id, spec.category, spec.area), t0.Add(time.Duration(i)*time.Minute), "open")
	}
	list := func(f duban.CaseFilter) []string {
		t.Helper()
		cases, _, err := s.Cases(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cases {
			got = append(got, c.ID)
		}
		return got
	}
	if got := list(duban.CaseFilter{}); !reflect.DeepEqual(got, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}) {
		t.Fatalf("newest first: %v", got)
	}
	if got := list(duban.CaseFilter{Unit: "market-supervision"}); !reflect.DeepEqual(got, []string{ids[1]}) {
		t.Fatalf("routed by area: %v", got)
	}
	if got := list(duban.CaseFilter{Category: "littering", Area: "new-town"}); !reflect.DeepEqual(got, []string{ids[4]}) {
		t.Fatalf("category and area: %v", got)
	}
	if got := list(duban.CaseFilter{Statuses: []duban.Status{duban.StatusClosed}}); len(got) != 0 {
		t.Fatalf("closed: %v", got)
	}
	// littering acknowledges in 30m, illegal parking in 30m, street vending in 30m:
	// at t0+33m the first four are overdue, the fifth (opened t0+4m) not yet.
	yes, no := true, false
	at := t0.Add(33 * time.Minute)
	if got := list(duban.CaseFilter{Overdue: &yes, Now: at}); !reflect.DeepEqual(got, []string{ids[3], ids[2], ids[1], ids[0]}) {
		t.Fatalf("overdue: %v", got)
	}
	if got := list(duban.CaseFilter{Overdue: &no, Now: at}); !reflect.DeepEqual(got, []string{ids[4]}) {
		t.Fatalf("not overdue: %v", got)
	}
	if got := list(duban.CaseFilter{Escalated: &yes, Now: at}); len(got) != 4 {
		t.Fatalf("escalated: %v", got)
	}

	// Pages of two cover the list once, in order.
	var paged []string
	f := duban.CaseFilter{Limit: 2}
	for pages := 0; ; pages++ {
		cases, next, err := s.Cases(ctx, f)
		if err != nil || pages > 3 {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, c := range cases {
			paged = append(paged, c.ID)
		}
		if next == nil {
			break
		}
		f.After = next
	}
	if !reflect.DeepEqual(paged, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}) {
		t.Fatalf("pages: %v", paged)
	}
}

func TestEscalationsWorstFirst(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	// Acknowledge deadlines: parking at t0+30m, jaywalking at t0+2h.
	parking, jaywalking, fresh := uuid.NewString(), uuid.NewString(), uuid.NewString()
	do(t, s, duban.Case{}, openCmd(jaywalking, "jaywalking", ""), t0, "open")
	do(t, s, duban.Case{}, openCmd(parking, "illegal-parking", ""), t0.Add(time.Minute), "open")
	do(t, s, duban.Case{}, openCmd(fresh, "littering", ""), t0.Add(5*time.Hour), "open")
	ids := func(now time.Time) []string {
		cases, _, err := s.Escalations(ctx, duban.CaseFilter{Now: now, Limit: 100}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cases {
			out = append(out, c.ID)
		}
		return out
	}
	if got := ids(t0.Add(20 * time.Minute)); len(got) != 0 {
		t.Fatalf("nothing is overdue yet: %v", got)
	}
	if got := ids(t0.Add(time.Hour + 50*time.Minute)); !reflect.DeepEqual(got, []string{parking}) {
		t.Fatalf("only parking is overdue: %v", got)
	}
	// A case opened under terms that climb to level 2 a minute after the
	// deadline comes first while it is overdue for less time than the others.
	quick := uuid.NewString()
	cmd := openCmd(quick, "littering", "")
	cmd.Terms.Ladder = []duban.Rung{{Level: 1}, {At: duban.Offset{Duration: time.Minute}, Level: 2}}
	do(t, s, duban.Case{}, cmd, t0.Add(2*time.Hour), "open") // acknowledge by t0+2h30m
	if got := ids(t0.Add(3 * time.Hour)); !reflect.DeepEqual(got, []string{quick, parking, jaywalking}) {
		t.Fatalf("level first, then longest overdue: %v", got)
	}
	// At t0+6h01 parking, jaywalking and quick are all at level 2, in order of
	// their deadlines; the fresh case (due t0+5h30m) is at level 1.
	if got := ids(t0.Add(6*time.Hour + time.Minute)); !reflect.DeepEqual(got, []string{parking, jaywalking, quick, fresh}) {
		t.Fatalf("same level, longest overdue first: %v", got)
	}
	// A ladder whose level 2 (a minute after the deadline) comes before its
	// level 1 (+100%, 20 minutes after): at t0+5h25 the case is at level 2,
	// ahead of jaywalking at level 1, as duban.Clock.Level says.
	mixed := uuid.NewString()
	cmd = openCmd(mixed, "littering", "")
	cmd.Terms.SLA.Acknowledge = 20 * time.Minute // acknowledge by t0+5h20m
	cmd.Terms.Ladder = []duban.Rung{{At: duban.Offset{Percent: 100, Relative: true}, Level: 1}, {At: duban.Offset{Duration: time.Minute}, Level: 2}}
	do(t, s, duban.Case{}, cmd, t0.Add(5*time.Hour), "open")
	if got := ids(t0.Add(5*time.Hour + 25*time.Minute)); !reflect.DeepEqual(got, []string{parking, quick, mixed, jaywalking}) {
		t.Fatalf("a level reached early counts: %v", got)
	}
}

// duplicateOf cancels a case as a duplicate of original, an open case.
func duplicateOf(original, reason string) duban.Cancel {
	return duban.Cancel{CommandMeta: duban.CommandMeta{By: duban.Principal{ID: "s", Role: duban.RoleSupervisor}}, Reason: reason,
		DuplicateOf: original, Original: &duban.CaseRef{ID: original, Status: duban.StatusDispatched}}
}

func TestDuplicates(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	original, dup1, dup2 := uuid.NewString(), uuid.NewString(), uuid.NewString()
	do(t, s, duban.Case{}, openCmd(original, "littering", ""), t0, "open")
	for i, id := range []string{dup1, dup2} {
		c, _ := do(t, s, duban.Case{}, openCmd(id, "littering", ""), t0.Add(time.Duration(i+1)*time.Minute), "open")
		do(t, s, c, duplicateOf(original, "same bags"), t0.Add(time.Hour), "cancel")
	}
	got, err := s.Case(ctx, original)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Duplicates, []string{dup1, dup2}) {
		t.Fatalf("duplicates %v", got.Duplicates)
	}
	if dup, _ := s.Case(ctx, dup1); dup.Duplicates != nil || dup.DuplicateOf != original {
		t.Fatalf("the duplicate %+v", dup)
	}
	// A bulk-loaded duplicate is listed on its original too.
	events, _ := duban.Decide(duban.Case{}, openCmd(uuid.NewString(), "littering", ""), t0)
	c := duban.Fold(duban.Case{}, events)
	more, _ := duban.Decide(c, duplicateOf(original, "again"), t0.Add(2*time.Hour))
	events = append(events, more...)
	if err := s.BulkLoad(ctx, []postgres.CaseHistory{{Events: events}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Case(ctx, original); len(got.Duplicates) != 3 || got.Duplicates[2] != c.ID {
		t.Fatalf("after bulk loading a duplicate: %v", got.Duplicates)
	}
}

// A bulk-loaded case reads back exactly like one appended command by command.
func TestBulkLoad(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	appended := uuid.NewString()
	c, _ := do(t, s, duban.Case{}, openCmd(appended, "littering", "old-town"), t0, "open")
	do(t, s, c, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit}}, t0.Add(time.Minute), "ack")

	loaded := uuid.NewString()
	events, _ := duban.Decide(duban.Case{}, openCmd(loaded, "littering", "old-town"), t0)
	c2 := duban.Fold(duban.Case{}, events)
	more, _ := duban.Decide(c2, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit}}, t0.Add(time.Minute))
	events = append(events, more...)
	if err := s.BulkLoad(ctx, []postgres.CaseHistory{{Events: events}}); err != nil {
		t.Fatal(err)
	}
	loadedRow, err := s.Case(ctx, loaded)
	if err != nil {
		t.Fatal(err)
	}
	appendedRow, _ := s.Case(ctx, appended)
	got, want := loadedRow.Case, appendedRow.Case
	got.ID, want.ID = "", ""
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %+v\nappended %+v", got, want)
	}
	stored, _ := s.Events(ctx, loaded)
	if len(stored) != 3 || stored[2].Type != duban.EventCaseAcknowledged {
		t.Fatalf("events %+v", stored)
	}
	// Lists see it with the same columns.
	yes := true
	cases, _, err := s.Cases(ctx, duban.CaseFilter{Overdue: &yes, Now: t0.Add(25 * time.Hour), Statuses: []duban.Status{duban.StatusInProgress}})
	if err != nil || len(cases) != 2 {
		t.Fatalf("overdue in progress: %d cases, %v", len(cases), err)
	}
}

// duban's connections run without PostgreSQL's JIT compiler, unless the
// URL asks for it.
func TestPoolConfigTurnsJITOff(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	for _, tc := range []struct{ url, want string }{
		{url, "off"},
		{url + sep(url) + "options=-c%20jit%3Don", "on"},
	} {
		cfg, err := postgres.PoolConfig(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var jit string
		err = pool.QueryRow(ctx, "SHOW jit").Scan(&jit)
		pool.Close()
		if err != nil || jit != tc.want {
			t.Errorf("%s: jit %q, %v; want %q", tc.url, jit, err, tc.want)
		}
	}
}

func sep(url string) string {
	if strings.Contains(url, "?") {
		return "&"
	}
	return "?"
}
