package main

import (
	"context"
	"sync"
	"sync/atomic"
)

// measureClosedCases opens and closes cases in rounds and records the
// worker's live heap before the first round and after each: a closed case
// must leave nothing behind.
func measureClosedCases(_ context.Context, r *benchRun) error {
	const rounds = 3
	r.logf("  worker memory: %d rounds of %d cases opened and closed", rounds, r.z.MemoryCases)
	heaps, err := closedCasesHeaps(r.s, r.c, r.z.Clients, r.z.MemoryCases, rounds)
	r.fig.WorkerHeapAfterRounds = heaps
	return err
}

// closedCasesHeaps opens and closes n cases per round, rounds times, and
// returns the worker's live heap before the first round and after each.
func closedCasesHeaps(s *stack, c *caller, clients, n, rounds int) ([]int64, error) {
	heap, err := s.liveHeap("worker")
	if err != nil {
		return nil, err
	}
	heaps := []int64{heap}
	for range rounds {
		ids, err := openCount(c, clients, n, "littering")
		if err != nil {
			return nil, err
		}
		if err := closeCases(c, clients, ids); err != nil {
			return nil, err
		}
		if heap, err = s.liveHeap("worker"); err != nil {
			return nil, err
		}
		heaps = append(heaps, heap)
	}
	return heaps, nil
}

// closeCases takes every case in ids through acknowledge, resolve and a
// passed verification, from clients callers.
func closeCases(c *caller, clients int, ids []string) error {
	var next atomic.Int64
	_, err := run(clients, func(int64) bool { return next.Load() >= int64(len(ids)) }, func(int) error {
		i := next.Add(1) - 1
		if i >= int64(len(ids)) {
			return nil
		}
		for _, step := range commandSteps {
			if err := c.call("POST", "/v1/cases/"+ids[i]+"/"+step.path, step.token, step.body, 200, nil); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

// openCount opens n cases as fast as clients callers can.
func openCount(c *caller, clients, n int, category string) ([]string, error) {
	var mu sync.Mutex
	var ids []string
	_, err := run(clients, forCount(int64(n)), func(int) error {
		var out wireCase
		if err := c.call("POST", "/v1/cases", "bench-inspector", openBody(category), 201, &out); err != nil {
			return err
		}
		mu.Lock()
		ids = append(ids, out.ID)
		mu.Unlock()
		return nil
	})
	return ids, err
}
