package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/duban/duban"
	"github.com/duban/duban/internal/harness"
	"github.com/duban/duban/postgres"
)

// caller talks to duban's API like a client application: keep-alive
// connections, one per concurrent caller; every POST carries an
// Idempotency-Key and is repeated with it, a few times, when the answer is
// 503 (the engine was busy or did not answer in time).
type caller struct {
	base string
	http *http.Client
}

// repeated503 counts the POSTs repeated after a 503, over a stack's run.
var repeated503 atomic.Int64

func newCaller(base string, clients int) *caller {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = clients * 2
	return &caller{base: base, http: &http.Client{Transport: t, Timeout: 2 * time.Minute}}
}

// call sends a request and decodes a JSON answer into out (if not nil); a
// status other than want is an error.
func (c *caller) call(method, path, token string, body any, want int, out any) error {
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	key := ""
	if method == http.MethodPost {
		key = uuid.NewString()
	}
	for attempt := 1; ; attempt++ {
		status, b, err := c.send(method, path, token, payload, key)
		if err != nil {
			return err
		}
		if status == http.StatusServiceUnavailable && key != "" && attempt < 4 {
			repeated503.Add(1)
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
			continue
		}
		if status != want {
			return fmt.Errorf("%s %s: %d %s", method, path, status, b)
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
}

func (c *caller) send(method, path, token string, payload []byte, key string) (int, []byte, error) {
	return harness.Send(context.Background(), c.http, method, c.base+path, token, key, payload)
}

type wireCase struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	Overdue         bool   `json:"overdue"`
	EscalationLevel int    `json:"escalation_level"`
}

func openBody(category string) map[string]any {
	return map[string]any{
		"category": category, "severity": "normal", "description": "bags dumped at the bus stop on Heping Road",
		"location": map[string]any{"lat": 39.865, "lon": 111.238, "address": "Heping Rd bus stop", "area": "old-town"},
		"evidence": []map[string]string{{"url": "https://example.org/photos/1.jpg", "kind": "photo"}},
	}
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

// commandSteps are the commands a case goes through, in order.
var commandSteps = []struct {
	name, path, token string
	body              any
}{
	{"acknowledge", "acknowledge", "bench-unit", nil},
	{"resolve", "resolve", "bench-unit", map[string]any{"note": "bags removed, bus stop swept"}},
	{"verify", "verify", "bench-inspector", map[string]any{"passed": true, "note": "checked on site"}},
}

// commandRun is where each caller is in its cases, and what the commands took.
type commandRun struct {
	ids    [][]string
	next   []int
	all    tally
	byStep map[string]*latencies
}

func newCommandRun(ids [][]string) *commandRun {
	r := &commandRun{ids: ids, next: make([]int, len(ids)), byStep: map[string]*latencies{}}
	for _, s := range commandSteps {
		r.byStep[s.name] = &latencies{}
	}
	return r
}

// dubanCommands drives each caller's cases through acknowledge, resolve and
// verify until stop.
func dubanCommands(c *caller, r *commandRun, stop func(int64) bool) error {
	ids, next, steps := r.ids, r.next, commandSteps
	start := time.Now()
	n, err := run(len(ids), stop, func(cl int) error {
		i := next[cl]
		next[cl]++
		if i/len(steps) >= len(ids[cl]) { // a fresh case, untimed
			var out wireCase
			if err := c.call("POST", "/v1/cases", "bench-inspector", openBody("littering"), 201, &out); err != nil {
				return err
			}
			ids[cl] = append(ids[cl], out.ID)
		}
		step := steps[i%len(steps)]
		began := time.Now()
		if err := c.call("POST", "/v1/cases/"+ids[cl][i/len(steps)]+"/"+step.path, step.token, step.body, 200, nil); err != nil {
			return err
		}
		d := time.Since(began)
		r.byStep[step.name].add(d)
		r.all.lat.add(d)
		return nil
	})
	r.all.n += n
	r.all.elapsed += time.Since(start)
	return err
}

// timedFor measures op from clients goroutines for d.
func timedFor(clients int, d time.Duration, op func() error) (dist, error) {
	var lat latencies
	_, err := run(clients, forDuration(d), func(int) error {
		t := time.Now()
		if err := op(); err != nil {
			return err
		}
		lat.add(time.Since(t))
		return nil
	})
	return lat.dist(), err
}

// timed measures op n times from clients goroutines.
func timed(clients, n int, op func() error) (dist, error) {
	var lat latencies
	err := timedInto(&lat, clients, n, op)
	return lat.dist(), err
}

// timedInto measures op n times from clients goroutines into lat.
func timedInto(lat *latencies, clients, n int, op func() error) error {
	_, err := run(clients, forCount(int64(n)), func(int) error {
		t := time.Now()
		if err := op(); err != nil {
			return err
		}
		lat.add(time.Since(t))
		return nil
	})
	return err
}

// seedTerms are long enough that no seeded case is overdue while measured.
var seedTerms = duban.Terms{
	SLA:      duban.SLA{Acknowledge: 8760 * time.Hour, Resolve: 17520 * time.Hour, Verify: 8760 * time.Hour},
	Calendar: duban.Calendar{Kind: duban.Calendar24x7},
	Ladder:   []duban.Rung{{Level: 1}},
}

var (
	seedUnits      = []string{"sanitation", "urban-management", "market-supervision", "traffic-police", "publicity", "municipal-engineering"}
	seedCategories = []string{"littering", "graffiti", "spitting", "street-vending", "jaywalking", "damaged-ads", "broken-pavement", "overflowing-bins", "illegal-parking"}
	seedAreas      = []string{"old-town", "new-district", "riverside", "station", "university"}
)

// seedHistory makes one realistic case history: opened some time in the
// last year; 70% closed, 20% in progress, 10% dispatched.
func seedHistory(rng *rand.Rand, now time.Time) postgres.CaseHistory {
	opened := now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
	steps := 0
	switch r := rng.IntN(10); {
	case r < 7:
		steps = 3
	case r < 9:
		steps = 1
	}
	return seedCase(rng, seedTerms, opened, steps)
}

// seedCase makes a case history through Decide: opened at opened under
// terms, then taken steps along acknowledge, resolve and verify, an hour apart.
func seedCase(rng *rand.Rand, terms duban.Terms, opened time.Time, steps int) postgres.CaseHistory {
	inspector := duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}
	unit := seedUnits[rng.IntN(len(seedUnits))]
	open := duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: inspector}, CaseID: uuid.NewString(),
		Category: seedCategories[rng.IntN(len(seedCategories))], Severity: duban.SeverityNormal,
		Description: "found on patrol: " + strings.Repeat("details ", 10),
		Location:    duban.Location{Lat: 39.8 + rng.Float64()/10, Lon: 111.2 + rng.Float64()/10, Area: seedAreas[rng.IntN(len(seedAreas))]},
		Unit:        unit, Terms: terms, PolicyVersion: "seed",
	}
	by := duban.CommandMeta{By: duban.Principal{ID: unit + "-1", Role: duban.RoleUnit, Unit: unit}}
	cmds := []duban.Command{open, duban.Acknowledge{CommandMeta: by}, duban.Resolve{CommandMeta: by, Note: "fixed"},
		duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Passed: true}}
	var c duban.Case
	var events []duban.Event
	for i, cmd := range cmds[:1+steps] {
		evs, err := duban.Decide(c, cmd, opened.Add(time.Duration(i)*time.Hour))
		if err != nil {
			panic(err)
		}
		c = duban.Fold(c, evs)
		events = append(events, evs...)
	}
	return postgres.CaseHistory{Events: events, Case: c}
}

// seed bulk-loads n case histories made by gen, keeping a sample of ids.
func seed(ctx context.Context, store *postgres.Store, n int, gen func(*rand.Rand) postgres.CaseHistory, progress func(done int)) ([]string, error) {
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	var sample []string
	const batch = 5000
	for done := 0; done < n; {
		size := min(batch, n-done)
		histories := make([]postgres.CaseHistory, size)
		for i := range histories {
			histories[i] = gen(rng)
			if len(sample) < 20000 && rng.IntN(max(1, n/20000)) == 0 {
				sample = append(sample, histories[i].Case.ID)
			}
		}
		if err := store.BulkLoad(ctx, histories); err != nil {
			return nil, err
		}
		done += size
		progress(done)
	}
	return sample, nil
}

// measureLongCase gives one case n events (comments), then times, from one
// client, commands on it beside commands on a new case: a long history must
// not make a case slower.
func measureLongCase(c *caller, n int, fig map[string]any) error {
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
	fig["long_case_latency"], fig["new_case_latency"] = onLong.dist(), onFresh.dist()
	return nil
}

// measureClosedCases opens and closes n cases per round, rounds times, and
// returns the worker's live heap before the first round and after each: a
// closed case must leave nothing behind.
func measureClosedCases(s *stack, c *caller, clients, n, rounds int) ([]int64, error) {
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
