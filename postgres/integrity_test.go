package postgres_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duban/duban"
	"github.com/duban/duban/postgres"
)

// tamper runs sql with the append-only guard lifted, as someone with the
// database's owner rights could.
func tamper(t *testing.T, s *postgres.Store, sql string) {
	t.Helper()
	ctx := context.Background()
	for _, stmt := range []string{`ALTER TABLE events DISABLE TRIGGER events_append_only`, sql, `ALTER TABLE events ENABLE TRIGGER events_append_only`} {
		if err := s.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// threeCases appends three cases of 4, 3 and 2 events.
func threeCases(t *testing.T, s *postgres.Store) []string {
	t.Helper()
	ack := duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit}}
	comment := duban.AddComment{CommandMeta: duban.CommandMeta{By: unit}, Text: "on our way"}
	var ids []string
	for i, steps := range [][]duban.Command{{ack, comment}, {ack}, nil} {
		id := uuid.NewString()
		c, _ := do(t, s, duban.Case{}, openCmd(id, "littering", "old-town"), t0.Add(time.Duration(i)*time.Minute), "open")
		for j, cmd := range steps {
			c, _ = do(t, s, c, cmd, t0.Add(time.Duration(i*10+j+1)*time.Minute), "step")
		}
		ids = append(ids, id)
	}
	return ids
}

func verify(t *testing.T, s *postgres.Store) postgres.Audit {
	t.Helper()
	a, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The audit finds every hand edit of the history, and only those: a changed
// event, a changed event whose hash was recomputed, a removed event, a
// removed last event, and two events swapped.
func TestAuditFindsTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sql    func(ids []string) string
		caseAt int   // which case the flaw must name
		at     int64 // and which version (0: the case's)
		saying string
	}{
		{"changed data", func(ids []string) string {
			return `UPDATE events SET data = jsonb_set(data, '{text}', '"nobody came"') WHERE case_id = '` + ids[0] + `' AND version = 4`
		}, 0, 4, "does not match"},
		{"changed and rehashed", func(ids []string) string {
			return `UPDATE events SET actor = '{"id":"someone-else","role":"unit","unit":"sanitation"}',
				hash = duban_event_hash((SELECT p.hash FROM events p WHERE p.case_id = events.case_id AND p.version = 2),
					ROW(events.position, events.id, events.case_id, events.version, events.type, events.occurred_at,
					    '{"id":"someone-else","role":"unit","unit":"sanitation"}'::jsonb, events.data, events.command_id,
					    events.tx, events.recorded_at, events.hash)::events)
				WHERE case_id = '` + ids[0] + `' AND version = 3`
		}, 0, 4, "does not match"},
		{"removed", func(ids []string) string {
			return `DELETE FROM events WHERE case_id = '` + ids[0] + `' AND version = 2`
		}, 0, 3, "gap"},
		{"removed last", func(ids []string) string {
			return `DELETE FROM events WHERE case_id = '` + ids[1] + `' AND version = 3`
		}, 1, 0, "projection is at version 3 but the last event is 2"},
		{"swapped", func(ids []string) string {
			w := ` WHERE case_id = '` + ids[0] + `' AND version = `
			return `UPDATE events SET version = 100` + w + `3; UPDATE events SET version = 3` + w + `4; UPDATE events SET version = 4` + w + `100`
		}, 0, 3, "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ids := threeCases(t, s)
			if a := verify(t, s); a.FlawCount != 0 || a.Cases != 3 || a.Events != 9 {
				t.Fatalf("before tampering: %+v", a)
			}
			tamper(t, s, tc.sql(ids))
			a := verify(t, s)
			if a.FlawCount == 0 {
				t.Fatal("the audit found nothing")
			}
			f := a.Flaws[0]
			if f.CaseID != ids[tc.caseAt] || f.Version != tc.at || !strings.Contains(f.Problem, tc.saying) {
				t.Fatalf("flaws %v, want case %d (%s) event %d: %q", a.Flaws, tc.caseAt, ids[tc.caseAt], tc.at, tc.saying)
			}
			for _, f := range a.Flaws {
				if f.CaseID != ids[tc.caseAt] {
					t.Errorf("an untouched case is flawed: %v", f)
				}
			}
		})
	}
}

// The chain is made the same way by appends and bulk loads, and an event
// whose predecessor is missing is refused.
func TestChainOnBulkLoadAndGaps(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	threeCases(t, s)
	events, _ := duban.Decide(duban.Case{}, openCmd(uuid.NewString(), "littering", ""), t0)
	c := duban.Fold(duban.Case{}, events)
	more, _ := duban.Decide(c, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit}}, t0.Add(time.Minute))
	events = append(events, more...)
	if err := s.BulkLoad(ctx, []postgres.CaseHistory{{Events: events}}); err != nil {
		t.Fatal(err)
	}
	if a := verify(t, s); a.FlawCount != 0 || a.Events != 12 {
		t.Fatalf("after a bulk load: %+v", a)
	}
	err := s.Exec(ctx, `INSERT INTO events (id, case_id, version, type, occurred_at, actor, data, command_id)
		VALUES (gen_random_uuid(), '`+events[0].CaseID+`', 5, 'CaseCommented', now(), '{}', '{}', 'x')`)
	if err == nil || !strings.Contains(err.Error(), "has no event 4") {
		t.Fatalf("an event after a gap: %v", err)
	}
}

// A projection row changed or lost by hand is found by a check, which writes
// nothing, and put right by a rebuild; a rebuild of a sound store changes
// nothing.
func TestRebuildProjections(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	ids := threeCases(t, s)
	original := uuid.NewString()
	do(t, s, duban.Case{}, openCmd(original, "littering", ""), t0, "open")
	dup, _ := do(t, s, duban.Case{}, openCmd(uuid.NewString(), "littering", ""), t0, "open")
	do(t, s, dup, duplicateOf(original, "same"), t0.Add(time.Hour), "cancel")

	r, err := s.RebuildProjections(ctx, true, nil)
	if err != nil || r.Cases != 5 || r.Differed != 0 {
		t.Fatalf("check of a sound store: %+v, %v", r, err)
	}
	before, _ := s.Case(ctx, ids[0])
	for _, sql := range []string{
		`UPDATE cases SET status = 'closed', unit = 'parks', view = NULL,
			doc = doc || '{"status": "closed", "unit": "parks"}' WHERE id = '` + ids[0] + `'`,
		`DELETE FROM cases WHERE id = '` + ids[1] + `'`,
		`UPDATE cases SET duplicates = '{}' WHERE id = '` + original + `'`,
		// The scorecards' read model: a case's facts lost, another's
		// stretch changed (a row already differing: counted once).
		`DELETE FROM facts WHERE case_id = '` + ids[2] + `'`,
		`UPDATE stretches SET until = now() WHERE case_id = '` + ids[0] + `'`,
	} {
		if err := s.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	r, err = s.RebuildProjections(ctx, true, nil)
	if err != nil || r.Differed != 4 || r.Rewritten != 0 {
		t.Fatalf("check: %+v, %v", r, err)
	}
	// Each names what differs.
	differs := map[string]string{}
	for _, d := range r.Examples {
		differs[d.Case] = strings.Join(d.Fields, ", ")
	}
	for id, want := range map[string]string{ids[0]: "status, unit, doc.status, doc.unit, view, stretches", ids[1]: "row", ids[2]: "facts", original: "duplicates"} {
		if differs[id] != want {
			t.Errorf("case %s differs in %q, want %q", id, differs[id], want)
		}
	}
	if got, _ := s.Case(ctx, ids[0]); got.Status != duban.StatusClosed {
		t.Fatalf("a check wrote: %+v", got.Status)
	}
	var folded []int64
	r, err = s.RebuildProjections(ctx, false, func(n int64) { folded = append(folded, n) })
	if err != nil || r.Differed != 4 || r.Rewritten != 4 || len(folded) == 0 || folded[len(folded)-1] != 5 {
		t.Fatalf("rebuild: %+v, progress %v, %v", r, folded, err)
	}
	if got, _ := s.Case(ctx, ids[0]); got.Status != before.Status || got.Unit != "sanitation" {
		t.Fatalf("after the rebuild: %+v", got.Case)
	}
	if _, err := s.Case(ctx, ids[1]); err != nil {
		t.Fatalf("the lost row: %v", err)
	}
	if got, _ := s.Case(ctx, original); len(got.Duplicates) != 1 || got.Duplicates[0] != dup.ID {
		t.Fatalf("duplicates after the rebuild: %v", got.Duplicates)
	}
	if r, err := s.RebuildProjections(ctx, true, nil); err != nil || r.Differed != 0 {
		t.Fatalf("check after the rebuild: %+v, %v", r, err)
	}
	if a := verify(t, s); a.FlawCount != 0 {
		t.Fatalf("audit after the rebuild: %v", a.Flaws)
	}
}

// Rows written before deadlines had assign_by are made the fold of their
// events again by migration 0008.
func TestMigrationAddsAssignBy(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	ids := threeCases(t, s)
	// As such a row was written: no assign_by in its doc or its view.
	if err := s.Exec(ctx, `UPDATE cases SET doc = doc #- '{deadlines,assign_by}',
		view = replace(view, '"assign_by":null,', '')`); err != nil {
		t.Fatal(err)
	}
	if r, err := s.RebuildProjections(ctx, true, nil); err != nil || r.Differed != int64(len(ids)) {
		t.Fatalf("before the migration: %+v, %v", r, err)
	}
	sql, err := os.ReadFile("migrations/0008_assign_by.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, string(sql)); err != nil {
		t.Fatal(err)
	}
	if r, err := s.RebuildProjections(ctx, true, nil); err != nil || r.Differed != 0 {
		t.Fatalf("after the migration: %+v, %v", r, err)
	}
}

// Migration 0009 on a store written before it: finished cases gain their
// outcome, every case the start of its unit's obligation, and the
// scorecards' facts and stretches are made from the events already held.
// Afterwards every row, fact and stretch is the fold of its events.
func TestMigrationAddsOutcomesAndTheScorecards(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	threeCases(t, s)
	closed, _ := do(t, s, duban.Case{}, openCmd(uuid.NewString(), "littering", ""), t0, "open")
	closed, _ = do(t, s, closed, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit}}, t0.Add(time.Minute), "ack")
	closed, _ = do(t, s, closed, duban.Resolve{CommandMeta: duban.CommandMeta{By: unit}, Note: "swept"}, t0.Add(time.Hour), "resolve")
	do(t, s, closed, duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Passed: true}, t0.Add(2*time.Hour), "verify")
	cancelled, _ := do(t, s, duban.Case{}, openCmd(uuid.NewString(), "littering", ""), t0, "open")
	do(t, s, cancelled, duban.Cancel{CommandMeta: duban.CommandMeta{By: duban.Principal{ID: "s", Role: duban.RoleSupervisor}}, Reason: "no", Outcome: duban.OutcomeNoFurtherAction}, t0.Add(time.Hour), "cancel")
	// The store as it stood before 0009.
	for _, sql := range []string{
		`UPDATE cases SET doc = doc - 'outcome' - 'obligation_since', view = replace(replace(view, ',"outcome":"fixed"', ''), ',"outcome":"no_further_action"', '')`,
		`DROP TABLE facts, stretches, bulletins CASCADE`,
		`DROP FUNCTION bulletins_are_immutable()`,
		`DELETE FROM schema_migrations WHERE version = 9`,
	} {
		if err := s.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := s.RebuildProjections(ctx, true, nil); err != nil || r.Differed != 0 || r.Cases != 5 {
		t.Fatalf("after the migration: %+v, %v", r, err)
	}
	if got, _ := s.Case(ctx, closed.ID); got.Outcome != duban.OutcomeFixed || got.ObligationSince == nil {
		t.Fatalf("the closed case: %+v", got.Case)
	}
}

// Views written before listing existed say nothing of it; migration 0016
// makes them the fold of their events again.
func TestMigrationAddsListed(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	ids := threeCases(t, s)
	closed, _ := do(t, s, duban.Case{}, openCmd(uuid.NewString(), "littering", ""), t0, "open")
	do(t, s, closed, duban.Cancel{CommandMeta: duban.CommandMeta{By: duban.Principal{ID: "s", Role: duban.RoleSupervisor}}, Reason: "no", Outcome: duban.OutcomeNoFurtherAction}, t0.Add(time.Hour), "cancel")
	if err := s.Exec(ctx, `UPDATE cases SET view = replace(view, ',"listed":false', '')`); err != nil {
		t.Fatal(err)
	}
	if r, err := s.RebuildProjections(ctx, true, nil); err != nil || r.Differed != int64(len(ids)+1) {
		t.Fatalf("before the migration: %+v, %v", r, err)
	}
	sql, err := os.ReadFile("migrations/0016_rounds.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, update, ok := strings.Cut(string(sql), "\nUPDATE cases SET view")
	if !ok {
		t.Fatal("0016 updates no view")
	}
	if err := s.Exec(ctx, "UPDATE cases SET view"+update); err != nil {
		t.Fatal(err)
	}
	if r, err := s.RebuildProjections(ctx, true, nil); err != nil || r.Differed != 0 {
		t.Fatalf("after the migration: %+v, %v", r, err)
	}
}
