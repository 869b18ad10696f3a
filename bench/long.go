package main

import "context"

// measureLongCase gives one case n events (comments), then times, from one
// client, commands on it beside commands on a new case: a long history must
// not make a case slower.
func measureLongCase(_ context.Context, r *benchRun) error {
	c, n := r.c, r.z.LongCase
	r.logf("  a case with %d events beside a new one, one client", n)
	var long, fresh wireCase
	if err := c.call("POST", "/v1/cases", "bench-inspector", openBody("littering"), 201, &long); err != nil {
		return err
	}
	if err := c.call("POST", "/v1/cases", "bench-inspector", openBody("littering"), 201, &fresh); err != nil {
		return err
	}
	comment := map[string]any{"text": "seen again on patrol"}
	for range n - 2 {
		if err := c.call("POST", "/v1/cases/"+long.ID+"/comments", "bench-supervisor", comment, 200, nil); err != nil {
			return err
		}
	}
	var onLong, onFresh latencies
	for range 4 { // alternating rounds
		for _, side := range []struct {
			id  string
			lat *latencies
		}{{long.ID, &onLong}, {fresh.ID, &onFresh}} {
			if err := timedInto(side.lat, 1, 15, func() error {
				return c.call("POST", "/v1/cases/"+side.id+"/comments", "bench-supervisor", comment, 200, nil)
			}); err != nil {
				return err
			}
		}
	}
	longLat, freshLat := onLong.dist(), onFresh.dist()
	r.fig.LongCaseLatency, r.fig.NewCaseLatency = &longLat, &freshLat
	return nil
}
