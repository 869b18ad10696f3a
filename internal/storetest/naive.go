package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/duban/duban"
)

// testScorecardsNaive plays a random workload of a few hundred commands on
// many cases, and checks every unit's whole row (counts, minutes, rates,
// score and rank) for several periods against one recomputed from the
// cases' events by a second, naive path: a walk over each case's events
// that follows SPEC.md's definitions, sharing no code with the store's
// facts and stretches.
func testScorecardsNaive(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	units := []string{"u1", "u2", "u3", "u4"}
	rng := rand.New(rand.NewPCG(15, 2026))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	var opened []string
	commands := 0
	for range 120 {
		now := time.Date(2026, 10, 20, 8, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(50*24*60)) * time.Minute)
		unit := pick(append(units, "")...) // "": unrouted
		var id string
		public := rng.IntN(3) == 0
		if public { // a resident's report, checked first
			id = w.report(now, pick("littering", "graffiti"), pick("old-town", "riverside"))
		} else if rng.IntN(4) == 0 { // a failure a site inspection found, for the n-th time
			n := 1 + rng.IntN(3)
			id = w.openFound(now, pick("littering", "graffiti"), unit, pick("old-town", "riverside"), n)
		} else {
			id = w.open(now, pick("littering", "graffiti"), unit, pick("old-town", "riverside"), duban.SeverityNormal)
		}
		opened = append(opened, id)
		steps := 1 + rng.IntN(14)
		if public {
			steps += 10 // checked, fixed and rated in time
		}
		for step := range steps { // some cases are left running
			now = now.Add(time.Duration(1+rng.IntN(12*60)) * time.Minute)
			w.try(id, duban.Tick{CommandMeta: duban.CommandMeta{By: duban.System}}, now, fmt.Sprint("tick-", step))
			c, err := s.Case(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			resident := duban.CommandMeta{By: duban.Principal{ID: c.Reporter, Role: duban.RoleResident}}
			rateOrReopen := c.RatingOpen(now)
			if !rateOrReopen && (c.Status == duban.StatusClosed || c.Status == duban.StatusCancelled) {
				break
			}
			own := unitOf(c.Unit)
			var cmd duban.Command
			switch c.Status {
			case duban.StatusReported:
				cmd = duban.Confirm{CommandMeta: duban.CommandMeta{By: inspector}, Unit: unit}
			case duban.StatusClosed:
				if c.Public.Rating == "" {
					cmd = duban.Rate{CommandMeta: resident, Rating: []duban.Rating{duban.RatingSatisfied, duban.RatingBasicallySatisfied, duban.RatingDissatisfied}[rng.IntN(3)]}
				} else {
					cmd = duban.Reopen{CommandMeta: office, Reason: "not satisfied"}
				}
			case duban.StatusUnrouted, duban.StatusDisputed:
				cmd = duban.Assign{CommandMeta: office, Unit: pick(units...), Units: units}
			case duban.StatusSuspended:
				cmd = duban.Resume{CommandMeta: office}
			case duban.StatusResolved:
				cmd = duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Passed: rng.IntN(3) > 0, Note: "looked"}
			default: // dispatched or in progress
				switch r := rng.IntN(26); {
				case r < 6 && c.Status == duban.StatusDispatched:
					cmd = duban.Acknowledge{CommandMeta: own}
				case r < 9:
					cmd = duban.Resolve{CommandMeta: own, Note: "done"}
				case r < 11:
					cmd = duban.RequestExtension{CommandMeta: own, Until: now.Add(time.Duration(24+rng.IntN(96)) * time.Hour), Reason: "parts"}
				case r < 13:
					cmd = duban.DecideExtension{CommandMeta: office, N: len(c.Extensions), Approved: rng.IntN(3) > 0}
				case r < 14:
					cmd = duban.Urge{CommandMeta: office, Note: "today"}
				case r < 15:
					var until *time.Time
					if rng.IntN(2) == 0 {
						until = new(now.Add(time.Duration(1+rng.IntN(72)) * time.Hour))
					}
					cmd = duban.Suspend{CommandMeta: office, Reason: "a crane", Until: until}
				case r < 16:
					cmd = duban.Dispute{CommandMeta: own, Reason: "not ours"}
				case r < 17:
					cmd = duban.Assign{CommandMeta: office, Unit: pick(units...), Units: units}
				case r < 18:
					cmd = duban.Cancel{CommandMeta: office, Reason: "nothing to do", Outcome: duban.OutcomeNoFurtherAction}
				case r < 20 && !c.Listed:
					cmd = duban.List{CommandMeta: office, Reason: "again"}
				case r < 20:
					cmd = duban.Delist{CommandMeta: office}
				case r < 21:
					if len(opened) > 1 && rng.IntN(2) == 0 {
						original, err := s.Case(ctx, opened[rng.IntN(len(opened)-1)])
						if err != nil {
							t.Fatal(err)
						}
						cmd = duban.Cancel{CommandMeta: office, Reason: "reported twice", DuplicateOf: original.ID, Original: original.Ref()}
					} else {
						cmd = duban.Cancel{CommandMeta: office, Reason: "not a problem"}
					}
				default:
					continue // the unit does nothing yet
				}
			}
			if w.try(id, cmd, now, fmt.Sprint("step-", step)) {
				commands++
			}
		}
	}
	if commands < 300 {
		t.Fatalf("the workload gave only %d commands", commands)
	}

	histories := map[string][]duban.Event{}
	for _, id := range opened {
		events, err := s.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		histories[id] = events
	}
	// The default weights, less 20 of the handling rate's for the
	// residents' satisfaction.
	assessment := duban.DefaultPolicy().Assessment
	assessment.Weights = maps.Clone(assessment.Weights)
	assessment.Weights["handling_rate"], assessment.Weights["satisfaction_rate"] = 10, 20
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	notSatisfied := 0
	for _, q := range []duban.ReportQuery{
		{Period: duban.Period{From: day(11, 1), To: day(12, 1)}, Now: day(12, 20)},
		{Period: duban.Period{From: day(10, 1), To: day(11, 1)}, Now: day(12, 20)},
		{Period: duban.Period{From: day(11, 15), To: day(12, 15)}, Now: day(12, 1).Add(9*time.Hour + 30*time.Minute)}, // still running
		{Period: duban.Period{From: day(11, 1), To: day(12, 1)}, Now: day(12, 20), Category: "graffiti", Area: "riverside"},
		{Period: duban.Period{From: day(10, 1), To: day(12, 31)}, Now: day(12, 31)},
	} {
		t.Run(q.From.Format("Jan 2")+"–"+q.To.Format("Jan 2")+" "+q.Category, func(t *testing.T) {
			counted, err := s.UnitCounts(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			assessment.Finish(counted)
			want := naiveRows(histories, q, assessment.Weights)
			if len(want) < 2 {
				t.Fatalf("the naive path found only %d units' rows: the workload is too thin to compare", len(want))
			}
			if q.Category == "" {
				recurrences, listed, rated, dissatisfied := 0, 0, 0, 0
				for _, r := range want {
					recurrences, listed, rated, dissatisfied = recurrences+r.Recurrences, listed+r.Listed, rated+r.Rated, dissatisfied+r.Rated-r.Satisfied
				}
				if recurrences == 0 || listed == 0 || rated == 0 {
					t.Fatalf("the workload has %d recurrences, %d listings and %d ratings in the period: too thin to compare them", recurrences, listed, rated)
				}
				notSatisfied += dissatisfied
			}
			if g, n := rowsJSON(counted), rowsJSON(want); g != n {
				t.Errorf("the store's rows differ from the naive path's:\nstore %s\nnaive %s", g, n)
			}
		})
	}
	if notSatisfied == 0 {
		t.Error("no rating in the workload was 不满意: the satisfaction rate is compared on satisfied ones alone")
	}
}

func rowsJSON(rows []duban.UnitRow) string {
	b, _ := json.MarshalIndent(rows, "", " ")
	return string(b)
}

// naiveRows computes q's rows from the cases' events by SPEC.md's words,
// case by case and event by event, with weights for the score.
func naiveRows(histories map[string][]duban.Event, q duban.ReportQuery, weights map[string]float64) []duban.UnitRow {
	end := q.To
	if q.Now.Before(end) {
		end = q.Now
	}
	type tally struct {
		row          duban.UnitRow
		ack, resolve []float64
		escalations  map[string]int
	}
	tallies := map[string]*tally{}
	of := func(unit string) *tally {
		if tallies[unit] == nil {
			tallies[unit] = &tally{row: duban.UnitRow{Unit: unit}, escalations: map[string]int{"1": 0, "2": 0, "3": 0}}
		}
		return tallies[unit]
	}
	for _, events := range histories {
		// "Cases cancelled as invalid or duplicate count nowhere."
		voided := slices.ContainsFunc(events, func(e duban.Event) bool {
			d, ok := e.Data.(duban.CaseCancelled)
			return ok && (d.Outcome == duban.OutcomeInvalid || d.Outcome == duban.OutcomeDuplicate ||
				d.Outcome == "" /* recorded before outcomes: invalid or duplicate */)
		})
		reported := events[0].Data.(duban.CaseReported)
		if voided || q.Category != "" && reported.Category != q.Category || q.Area != "" && reported.Location.Area != q.Area {
			continue
		}
		// The running resolve obligation, if any.
		type obligation struct {
			unit      string
			began     time.Time
			deadline  time.Time
			suspended bool
		}
		var running *obligation
		unit, resolver := "", "" // the case's unit; whose the last resolution was
		var dispatchedAt time.Time
		for _, e := range events {
			at := e.OccurredAt
			if !at.Before(end) {
				break
			}
			in := !at.Before(q.From)
			switch d := e.Data.(type) {
			case duban.CaseDispatched:
				unit, dispatchedAt = d.Unit, at
				running = &obligation{unit: d.Unit, began: at, deadline: *d.Deadlines.ResolveBy}
				if in {
					of(unit).row.Dispatched++
					// "Recurrences: the cases a site inspection found failing again, dispatched to the unit."
					if reported.Found != nil && reported.Found.Recurrence >= 2 {
						of(unit).row.Recurrences++
					}
				}
			case duban.CaseListed:
				if in && unit != "" {
					of(unit).row.Listed++
				}
			case duban.CaseAssigned, duban.CaseDisputed:
				running = nil // void
				if _, ok := d.(duban.CaseDisputed); ok {
					unit = ""
				}
			case duban.CaseAcknowledged:
				if in {
					of(unit).ack = append(of(unit).ack, at.Sub(dispatchedAt).Minutes())
				}
			case duban.CaseResolved:
				if in {
					t := of(running.unit)
					t.row.Handled++
					if !at.After(running.deadline) {
						t.row.HandledOnTime++
					}
					t.resolve = append(t.resolve, at.Sub(running.began).Minutes())
				}
				resolver, running = running.unit, nil
			case duban.VerificationPassed:
				if in {
					of(resolver).row.Verifications++
				}
			case duban.VerificationFailed:
				if in {
					of(resolver).row.Verifications++
					of(resolver).row.Rework++
				}
				running = &obligation{unit: unit, began: at, deadline: d.ResolveBy}
			case duban.CaseClosed:
				if in {
					of(resolver).row.Closed++
				}
			case duban.ReporterRated:
				// "rated: the residents' ratings of the unit's handling; satisfied: 满意 or 基本满意"
				if in {
					of(unit).row.Rated++
					if d.Rating == duban.RatingSatisfied || d.Rating == duban.RatingBasicallySatisfied {
						of(unit).row.Satisfied++
					}
				}
			case duban.CaseReopened:
				running = &obligation{unit: unit, began: at, deadline: d.ResolveBy}
			case duban.ExtensionDecided:
				if d.Approved {
					running.deadline = d.ResolveBy
					if in {
						of(unit).row.ExtensionsApproved++
					}
				}
			case duban.CaseEscalated:
				if in && unit != "" {
					of(unit).escalations[fmt.Sprint(d.Level)]++
				}
			case duban.CaseUrged:
				if in {
					of(d.Unit).row.Urges++
				}
			case duban.CaseSuspended:
				running.suspended = true
			case duban.CaseResumed:
				running.suspended, running.deadline = false, *d.Deadlines.ResolveBy
			case duban.CaseCancelled: // no further action: the others were skipped
				if in && unit != "" {
					of(unit).row.NoFurtherAction++
				}
				running = nil
			}
		}
		if running != nil && !running.suspended && running.deadline.Before(end) {
			of(running.unit).row.OverdueOpen++
		}
	}

	percentile := func(xs []float64, p float64) *float64 { // percentile_cont, to one decimal
		if len(xs) == 0 {
			return nil
		}
		sort.Float64s(xs)
		rank := p * float64(len(xs)-1)
		below := math.Floor(rank)
		v := xs[int(below)]
		if int(below)+1 < len(xs) {
			v += (xs[int(below)+1] - xs[int(below)]) * (rank - below)
		}
		v = math.Round(v*10) / 10
		return &v
	}
	ratio := func(n, d int) *float64 {
		if d == 0 {
			return nil
		}
		v := math.Round(float64(n)/float64(d)*10000) / 10000
		return &v
	}
	var rows []duban.UnitRow
	for _, t := range tallies {
		r := t.row
		r.Escalations = t.escalations
		r.Due = r.Handled + r.OverdueOpen
		r.HandlingRate, r.OnTimeRate, r.OverdueOpenRate = ratio(r.Handled, r.Due), ratio(r.HandledOnTime, r.Due), ratio(r.OverdueOpen, r.Due)
		r.ReworkRate, r.ClosureRate, r.ExtensionRate = ratio(r.Rework, r.Verifications), ratio(r.Closed, r.Due), ratio(r.ExtensionsApproved, r.Due)
		r.AckMinutes = duban.Minutes{P50: percentile(t.ack, 0.5), P90: percentile(t.ack, 0.9)}
		r.ResolveMinutes = duban.Minutes{P50: percentile(t.resolve, 0.5), P90: percentile(t.resolve, 0.9)}
		rates := map[string]*float64{"handling_rate": r.HandlingRate, "on_time_rate": r.OnTimeRate, "overdue_open_rate": r.OverdueOpenRate,
			"rework_rate": r.ReworkRate, "closure_rate": r.ClosureRate, "extension_rate": r.ExtensionRate}
		r.SatisfactionRate = ratio(r.Satisfied, r.Rated)
		rates["satisfaction_rate"] = r.SatisfactionRate
		score, scored := 0.0, r.Due > 0
		whole, weighed := 0.0, 0.0
		for _, name := range duban.RateNames {
			w := weights[name]
			v := rates[name]
			if name == "rework_rate" && r.Verifications == 0 {
				v = new(0.0) // SPEC: nothing verified, nothing reworked
			}
			whole += math.Abs(w)
			if name == "satisfaction_rate" && v == nil {
				continue // README: nothing rated, the weight is left out and the rest scaled to the whole
			}
			weighed += math.Abs(w)
			switch {
			case w == 0:
			case v == nil:
				scored = false
			case w > 0:
				score += w * *v
			default:
				score += -w * (1 - *v)
			}
		}
		if scored {
			score = math.Round(score*whole/weighed*10) / 10
			r.Score = &score
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if (a.Score == nil) != (b.Score == nil) {
			return a.Score != nil
		}
		if a.Score != nil && *a.Score != *b.Score {
			return *a.Score > *b.Score
		}
		return a.Unit < b.Unit
	})
	for i := range rows {
		if rows[i].Score != nil {
			rows[i].Rank = new(i + 1)
		}
	}
	return rows
}
