package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/duban/duban"
	"github.com/duban/duban/postgres"
)

// scorecardUnits are the 40 units the scorecards phase loads obligations
// for; mainPolicy lists them.
var scorecardUnits = func() []string {
	units := make([]string, 40)
	for i := range units {
		units[i] = fmt.Sprintf("unit-%02d", i+1)
	}
	return units
}()

// scorecardTerms are a county's: acknowledge in 2h, resolve in 48h, verify
// in 24h, every hour counted; escalated at the deadline, a day after it
// and three days after it.
var scorecardTerms = duban.Terms{
	SLA:      duban.SLA{Acknowledge: 2 * time.Hour, Resolve: 48 * time.Hour, Verify: 24 * time.Hour},
	Calendar: duban.Calendar{Kind: duban.Calendar24x7},
	Ladder: []duban.Rung{
		{At: duban.Offset{}, Level: 1},
		{At: duban.Offset{Duration: 24 * time.Hour}, Level: 2},
		{At: duban.Offset{Duration: 72 * time.Hour}, Level: 3},
	},
}

// seedObligations makes one case of a year's assessment through Decide:
// opened in [from, to) for one of the 40 units, then, as cases go, mostly
// fixed and closed (some late, some reworked, some extended), some left
// running, a few cancelled with no further action; with the escalations
// their deadlines bring, recorded as the workflow's timers would.
func seedObligations(rng *rand.Rand, from, to time.Time) postgres.CaseHistory {
	inspector := duban.Principal{ID: fmt.Sprintf("inspector-%d", 1+rng.IntN(12)), Role: duban.RoleInspector}
	supervisor := duban.CommandMeta{By: duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}}
	unit := scorecardUnits[rng.IntN(len(scorecardUnits))]
	by := duban.CommandMeta{By: duban.Principal{ID: unit + "-1", Role: duban.RoleUnit, Unit: unit}}
	now := from.Add(time.Duration(rng.Int64N(int64(to.Sub(from)))))
	var c duban.Case
	var events []duban.Event
	do := func(after time.Duration, cmd duban.Command) {
		now = now.Add(after)
		if c.Version > 0 {
			tick, err := duban.Decide(c, duban.Tick{CommandMeta: duban.CommandMeta{By: duban.System}}, now)
			if err != nil {
				panic(err)
			}
			c = duban.Fold(c, tick)
			events = append(events, tick...)
		}
		evs, err := duban.Decide(c, cmd, now)
		if err != nil {
			panic(fmt.Sprintf("%s on a %s case: %v", cmd.Name(), c.Status, err))
		}
		c = duban.Fold(c, evs)
		events = append(events, evs...)
	}
	minutes := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo)) * time.Minute }
	do(0, duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: inspector}, CaseID: uuid.NewString(),
		Category: seedCategories[rng.IntN(len(seedCategories))], Severity: duban.SeverityNormal,
		Description: "found on patrol", Location: duban.Location{Lat: 39.8, Lon: 111.2, Area: seedAreas[rng.IntN(len(seedAreas))]},
		Unit: unit, Terms: scorecardTerms, PolicyVersion: "seed",
	})
	switch r := rng.IntN(100); {
	case r < 5: // never acknowledged
		return postgres.CaseHistory{Events: events}
	case r < 7:
		do(minutes(30, 600), duban.Cancel{CommandMeta: supervisor, Reason: "private land", Outcome: duban.OutcomeNoFurtherAction})
		return postgres.CaseHistory{Events: events}
	}
	do(minutes(5, 240), duban.Acknowledge{CommandMeta: by})
	switch r := rng.IntN(100); {
	case r < 8: // running
		return postgres.CaseHistory{Events: events}
	case r < 11:
		do(minutes(60, 2000), duban.RequestExtension{CommandMeta: by, Until: now.Add(120 * time.Hour), Reason: "parts on order"})
		do(minutes(30, 300), duban.DecideExtension{CommandMeta: supervisor, N: 1, Approved: true})
	}
	do(minutes(60, 4000), duban.Resolve{CommandMeta: by, Note: "fixed"})
	if rng.IntN(100) < 8 { // reworked once
		do(minutes(30, 1500), duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Passed: false, Note: "not yet"})
		do(minutes(60, 2000), duban.Resolve{CommandMeta: by, Note: "fixed again"})
	}
	do(minutes(30, 1700), duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Passed: true})
	return postgres.CaseHistory{Events: events}
}

// measureScorecards loads z.ScorecardCases cases of the 40 units, a year
// of them ending a year ago (before the reads phase's cases), then times
// a month's scorecards and the cases behind a figure, through the API and
// as the raw statements that compute them.
func measureScorecards(ctx context.Context, r *benchRun) error {
	s, z := r.s, r.z
	store, err := r.dubanStore(ctx)
	if err != nil {
		return err
	}
	to := time.Now().UTC().AddDate(-1, 0, 0)
	to = time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC)
	from := to.AddDate(-1, 0, 0)
	r.logf("  loading %d cases of %d units, %s to %s, through the event store", z.ScorecardCases, len(scorecardUnits), from.Format("2006-01"), to.Format("2006-01"))
	start := time.Now()
	if _, err := seed(ctx, store, z.ScorecardCases, func(rng *rand.Rand) postgres.CaseHistory { return seedObligations(rng, from, to) }, func(done int) {
		if done%100_000 == 0 {
			r.logf("    %d", done)
		}
	}); err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, "ANALYZE facts; ANALYZE stretches"); err != nil {
		return err
	}
	loaded := time.Since(start).Seconds()
	r.fig.ScorecardLoadSeconds = &loaded
	var obligations, facts int64
	if err := s.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE kind = 'dispatched' OR kind = 'verification' AND failed), count(*) FROM facts
		WHERE at >= $1 AND at < $2`, from, to).Scan(&obligations, &facts); err != nil {
		return err
	}
	r.fig.ScorecardObligations = &obligations

	// The middle month of the year: the obligations running at its end are
	// found among every one that ended after it.
	month := duban.ReportQuery{Period: duban.Period{From: from.AddDate(0, 6, 0), To: from.AddDate(0, 7, 0)}, Now: time.Now()}
	dates := url.Values{"from": {month.From.Format(time.DateOnly)}, "to": {month.To.Format(time.DateOnly)}}
	figure := month
	figure.Unit = scorecardUnits[6]
	const behind = "handled_on_time"
	unitsSQL, unitsArgs := postgres.UnitCountsSQL(month)
	figureSQL, figureArgs, err := postgres.FigureCasesSQL(figure, behind)
	if err != nil {
		return err
	}
	query := func(sql string, args []any) func() error { return rawQuery(ctx, s, sql, args) }
	c := newCaller(s.apiBase, 1) // duban's API may have moved since the first phases (escalation restarts it)
	var card struct{ Items []duban.UnitRow }
	if err := c.call("GET", "/v1/reports/units?"+dates.Encode(), "bench-supervisor", nil, 200, &card); err != nil {
		return err
	}
	var handled int
	for _, row := range card.Items {
		if row.Unit == figure.Unit {
			handled = row.HandledOnTime
		}
	}
	r.logf("  %d obligations, %d facts in the year; %s's scorecard: %d rows, %s handled %d on time",
		obligations, facts, month.From.Format("2006-01"), len(card.Items), figure.Unit, handled)
	figurePath := "/v1/reports/units/" + figure.Unit + "/cases?figure=" + behind + "&" + dates.Encode()
	var listed struct{ Items []string }
	if err := c.call("GET", figurePath, "bench-supervisor", nil, 200, &listed); err != nil {
		return err
	}
	if len(listed.Items) == 0 || len(listed.Items) > handled {
		return fmt.Errorf("%s lists %d cases behind %s's %d handled on time", figurePath, len(listed.Items), figure.Unit, handled)
	}
	if r.profileDir != "" {
		if err := explain(ctx, s, filepath.Join(r.profileDir, "scorecards-plans.txt"), unitsSQL, unitsArgs, figureSQL, figureArgs); err != nil {
			return err
		}
	}
	// The cases behind a figure take a millisecond: ten times as many
	// reads of them, so that their p99 is not one read's.
	steps := []struct {
		into  **dist
		times int
		op    func() error
	}{
		{&r.fig.CeilingScorecardQuery, 1, query(unitsSQL, unitsArgs)},
		{&r.fig.Scorecard, 1, func() error {
			return c.call("GET", "/v1/reports/units?"+dates.Encode(), "bench-supervisor", nil, 200, nil)
		}},
		{&r.fig.CeilingFigureQuery, 10, query(figureSQL, figureArgs)},
		{&r.fig.FigureCases, 10, func() error { return c.call("GET", figurePath, "bench-supervisor", nil, 200, nil) }},
	}
	r.logf("  a month's scorecards and the %d cases behind a figure, raw and through the API, one client", len(listed.Items))
	const n = 8 // rounds
	lat, marks := make([]latencies, len(steps)), make([]rounds, len(steps))
	for range n {
		for i, st := range steps {
			if err := timedInto(&lat[i], 1, st.times*z.ScorecardReads/n, st.op); err != nil {
				return err
			}
			marks[i].end(&lat[i])
		}
	}
	for i, st := range steps {
		d := marks[i].dist(&lat[i])
		*st.into = &d
	}
	return nil
}

// rawQuery runs sql with args on duban's database and reads every row:
// a ceiling for the API answer it computes.
func rawQuery(ctx context.Context, s *stack, sql string, args []any) func() error {
	return func() error {
		rows, err := s.db.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		return rows.Err()
	}
}

// explain writes the plans of the statements, sql and its arguments in
// turn, as PostgreSQL ran them, to file.
func explain(ctx context.Context, s *stack, file string, statements ...any) error {
	var out strings.Builder
	for i := 0; i+1 < len(statements); i += 2 {
		rows, err := s.db.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+statements[i].(string), statements[i+1].([]any)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				return err
			}
			out.WriteString(line + "\n")
		}
		rows.Close()
		out.WriteString("\n")
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(out.String()), 0o644)
}
