package main

import (
	"context"
	"time"
)

// measureOpens opens bare workflows with Update-with-Start and cases
// through duban's API, from z.Clients clients, in rounds that alternate so
// that whatever else the machine does weighs on both alike. Every later
// phase goes on from the cases and workflows it opened.
func measureOpens(ctx context.Context, r *benchRun) error {
	const rounds = 4
	z := r.z
	r.logf("  opens: Update-with-Start of a bare workflow and duban's, %d clients, %d rounds of %s each", z.Clients, rounds, z.OpenFor/rounds)
	var bare, opened tally
	r.bareIDs, r.caseIDs = make([][]string, z.Clients), make([][]string, z.Clients)
	for range rounds {
		if err := ceilingOpen(ctx, r.s.tc, BareWorkflow, z.Clients, forDuration(z.OpenFor/rounds), &bare, r.bareIDs); err != nil {
			return err
		}
		if err := dubanOpen(r.c, z.Clients, forDuration(z.OpenFor/rounds), &opened, r.caseIDs); err != nil {
			return err
		}
	}
	r.bareRate, r.openRate = bare.rate(), opened.rate()
	bareLat, openLat := bare.lat.dist(), opened.lat.dist()
	r.fig.CeilingOpenPerS, r.fig.CeilingOpenLatency = &r.bareRate, &bareLat
	r.fig.OpenPerS, r.fig.OpenLatency = &r.openRate, &openLat
	return nil
}

// dubanOpen opens cases from clients callers until stop, into t, and
// appends them to each caller's cases.
func dubanOpen(c *caller, clients int, stop func(int64) bool, t *tally, ids [][]string) error {
	start := time.Now()
	n, err := run(clients, stop, func(cl int) error {
		began := time.Now()
		var out wireCase
		if err := c.call("POST", "/v1/cases", "bench-inspector", openBody("littering"), 201, &out); err != nil {
			return err
		}
		t.lat.add(time.Since(began))
		ids[cl] = append(ids[cl], out.ID)
		return nil
	})
	t.n += n
	t.elapsed += time.Since(start)
	return err
}

// measureSingle times, from one client with nothing else running, opening a
// bare workflow and a case, and an Update on a running bare workflow and a
// comment on a case: latency without queueing.
func measureSingle(ctx context.Context, r *benchRun) error {
	r.logf("  one client: Update-with-Start and duban's open, an Update and duban's command")
	const n = 50
	var open, update tally
	if err := ceilingOpen(ctx, r.s.tc, BareWorkflow, 1, forCount(n), &open, make([][]string, 1)); err != nil {
		return err
	}
	if err := ceilingUpdate(ctx, r.s.tc, newUpdateRun(r.bareIDs[:1], 0), forCount(n), &update); err != nil {
		return err
	}
	openLat, updateLat := open.lat.dist(), update.lat.dist()
	r.fig.SingleCeilingOpenLatency, r.fig.SingleCeilingUpdateLatency = &openLat, &updateLat
	single, err := timed(1, n, func() error {
		return r.c.call("POST", "/v1/cases", "bench-inspector", openBody("littering"), 201, nil)
	})
	if err != nil {
		return err
	}
	id := r.caseIDs[0][0]
	command, err := timed(1, n, func() error {
		return r.c.call("POST", "/v1/cases/"+id+"/comments", "bench-supervisor", map[string]any{"text": "seen on patrol"}, 200, nil)
	})
	r.fig.SingleOpenLatency, r.fig.SingleCommandLatency = &single, &command
	return err
}
