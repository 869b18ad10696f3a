package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/duban/duban/postgres"
)

// weekendPolicy is a business calendar whose only working day is w's
// ("Monday"), opening at w (a whole minute, UTC): every case opened before
// w, over the "weekend", is due at Monday's opening plus the category's
// acknowledge deadline of one second, w+1s, and escalates then to level 1,
// and again to level 2 after second more.
func weekendPolicy(w time.Time, second time.Duration) string {
	return fmt.Sprintf(`timezone: UTC
calendar: business
business_hours:
  days: [%s]
  hours: ["%s-24:00"]
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
categories:
  - code: deadline
    name: {zh: 同时到期, en: All due at once}
    unit: sanitation
    sla:
      normal: {acknowledge: 1s, resolve: 24h, verify: 24h}
escalation:
  - {at: 0s, level: 1}
  - {at: %s, level: 2}
principals:
%s`, strings.ToLower(w.UTC().Weekday().String()[:3]), w.UTC().Format("15:04"), second, principalsYAML)
}

// escalation is what one run of simultaneous deadlines measured.
type escalation struct {
	N        int   `json:"n"`
	Visible  dist  `json:"visible_lag"`    // deadline to overdue in GET or /v1/escalations
	Recorded dist  `json:"recorded_lag"`   // deadline to the CaseEscalated event's commit
	InTask   dist  `json:"task_to_append"` // start of the workflow task that decided it to its append
	Burst    burst `json:"burst"`
	// RecordedWhileRead is the second level's recorded lag, while the
	// visible lag was measured.
	RecordedWhileRead dist    `json:"recorded_lag_while_read"`
	OpenTime          float64 `json:"open_seconds"`
	// Worker memory and store growth over the n cases.
	WorkerRSSBefore  int64 `json:"worker_rss_before"`
	WorkerRSSAfter   int64 `json:"worker_rss_after"`
	WorkerHeapBefore int64 `json:"worker_heap_before"`
	WorkerHeapAfter  int64 `json:"worker_heap_after"`
	DubanDiskGrowth  int64 `json:"duban_disk_growth"`
	TemporalGrowth   int64 `json:"temporal_disk_growth"`
}

// measureTimers is the ceiling of simultaneous deadlines: as many bare
// timers due at one instant, each recorded by a local activity.
func measureTimers(ctx context.Context, r *benchRun) error {
	r.logf("  ceiling: %d bare timers due at one instant", r.z.Simultaneous)
	lag, b, err := ceilingTimers(ctx, r.s, r.z.Clients, r.z.Simultaneous, r.bareRate, r.profileDir)
	r.fig.CeilingTimerLag, r.fig.CeilingTimerBurst = &lag, &b
	r.logf("  timers fired p50 %.0f ms, p99 %.0f ms after due; %s", lag.P50, lag.P99, b)
	return err
}

// measureEscalation measures simultaneous deadlines, then starts duban
// again on the main policy for the phases after it.
func measureEscalation(ctx context.Context, r *benchRun) error {
	r.logf("  duban: %d cases due at one instant, Monday's opening after a weekend", r.z.Simultaneous)
	esc, err := simultaneousDeadlines(ctx, r.s, 2*r.z.Clients, r.z.Simultaneous, r.openRate, r.profileDir, r.logf)
	if err != nil {
		return err
	}
	r.fig.Escalation = &esc
	return r.restartDuban(ctx, mainPolicy)
}

// simultaneousDeadlines opens n cases over a "weekend" so that all fall due
// at Monday's opening, then measures at that instant how late duban records
// their escalation, as the bare timers are measured, with nobody reading;
// and at their second level's instant, once the first burst is over, how
// late duban shows them overdue to readers polling as hard as they can. With
// profileDir set, it profiles the processes for profileFor from just before
// the first instant.
func simultaneousDeadlines(ctx context.Context, s *stack, clients, n int, openRate float64, profileDir string, logf func(string, ...any)) (escalation, error) {
	out := escalation{N: n}
	now := time.Now().UTC()
	// Opening must finish before the window opens; it must also open today.
	w := now.Add(time.Duration(float64(n)/openRate*1.3*float64(time.Second)) + 10*time.Second).Truncate(time.Minute).Add(time.Minute)
	// The first burst must be over by the second instant: 1,000 take about
	// 10 s here, 10,000 up to 140 s; a slower first burst is an error.
	second := 30*time.Second + time.Duration(n)*25*time.Millisecond
	if w.Add(2*second).Day() != now.Day() {
		return out, fmt.Errorf("the deadlines would fall after midnight UTC; run again after 00:00 UTC")
	}
	err := s.startDuban(ctx, weekendPolicy(w, second))
	if err != nil {
		return out, err
	}
	out.WorkerRSSBefore = s.worker.RSS()
	if out.WorkerHeapBefore, err = s.liveHeap("worker"); err != nil {
		return out, err
	}
	dubanBefore, temporalBefore := s.sizes(ctx)
	c := newCaller(s.apiBase, clients)
	start := time.Now()
	ids, err := openCount(c, clients, n, "deadline")
	if err != nil {
		return out, err
	}
	out.OpenTime = time.Since(start).Seconds()
	due, due2 := w.Add(time.Second), w.Add(time.Second+second)
	if time.Now().After(w) {
		return out, fmt.Errorf("opening %d cases took %.0fs, past the deadline window; lower the count", n, out.OpenTime)
	}
	logf("  %d cases open in %.1fs; all due at %s, level 2 at %s", n, out.OpenTime, due.Format(time.TimeOnly), due2.Format(time.TimeOnly))
	profiled := func() error { return nil }
	if profileDir != "" {
		time.Sleep(time.Until(due.Add(-time.Second)))
		logf("  escalations for %s, profiled into %s", profileFor, profileDir)
		profiled = s.captureProfiles(filepath.Join(profileDir, "escalation"))
	}
	measured := s.measureBurst(ctx, ids, due)
	within := time.Duration(n)*50*time.Millisecond + 5*time.Minute
	from, err := logHorizon(ctx, s)
	if err != nil {
		return out, err
	}
	if out.Recorded, out.InTask, err = recordedLag(ctx, s, ids, 1, from, within); err != nil {
		return out, err
	}
	if out.Burst, err = measured(due.Add(time.Duration(out.Recorded.Max * float64(time.Millisecond)))); err != nil {
		return out, err
	}
	logf("  escalations recorded p50 %.0f ms, p99 %.0f ms after due; of which from the workflow task's start to the append p50 %.0f ms, p99 %.0f ms; %s",
		out.Recorded.P50, out.Recorded.P99, out.InTask.P50, out.InTask.P99, out.Burst)
	if err := profiled(); err != nil {
		return out, err
	}
	if time.Now().After(due2.Add(-time.Second)) {
		return out, fmt.Errorf("the first %d escalations took until the second level's instant; lower the count", n)
	}
	if from, err = logHorizon(ctx, s); err != nil {
		return out, err
	}
	if out.Visible, err = visibleLag(c, ids, due2, 2); err != nil {
		return out, err
	}
	if out.RecordedWhileRead, _, err = recordedLag(ctx, s, ids, 2, from, within); err != nil {
		return out, err
	}
	logf("  level 2 visible p99 %.0f ms; recorded meanwhile p50 %.0f ms, p99 %.0f ms", out.Visible.P99, out.RecordedWhileRead.P50, out.RecordedWhileRead.P99)
	out.WorkerRSSAfter = s.worker.RSS()
	if out.WorkerHeapAfter, err = s.liveHeap("worker"); err != nil {
		return out, err
	}
	dubanAfter, temporalAfter := s.sizes(ctx)
	out.DubanDiskGrowth, out.TemporalGrowth = dubanAfter-dubanBefore, temporalAfter-temporalBefore
	return out, nil
}

// visibleLag polls, from just before due, a sample of the cases one by one
// and the escalation board, and returns for each case seen overdue how long
// after due the answer that showed it arrived. Only the measured cases
// count: cases from earlier phases, overdue before due, may fill the board's
// first page (it shows the worst first), and then the sample alone measures.
// The polling stops once every case of the sample has been seen overdue (or
// 5 s after due): its six loops, each asking again as soon as answered, take
// the CPU the escalations are recorded with, and a city's supervisors do not
// read the board that hard for long.
func visibleLag(c *caller, ids []string, due time.Time, level int) (dist, error) {
	measured := make(map[string]bool, len(ids))
	for _, id := range ids {
		measured[id] = true
	}
	sample := ids
	if len(sample) > 300 {
		rng := rand.New(rand.NewPCG(3, 4))
		sample = make([]string, 300)
		for i := range sample {
			sample[i] = ids[rng.IntN(len(ids))]
		}
	}
	inSample := make(map[string]bool, len(sample))
	for _, id := range sample {
		inSample[id] = true
	}
	var mu sync.Mutex
	seen := map[string]time.Duration{}
	unseen := len(inSample)
	note := func(id string) {
		lag := time.Since(due)
		mu.Lock()
		if _, ok := seen[id]; !ok {
			seen[id] = lag
			if inSample[id] {
				unseen--
			}
		}
		mu.Unlock()
	}
	allSeen := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return unseen == 0
	}
	for time.Until(due) > 200*time.Millisecond {
		time.Sleep(10 * time.Millisecond)
	}
	stop := due.Add(5 * time.Second)
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	poll := func(f func() error) {
		defer wg.Done()
		for time.Now().Before(stop) && !allSeen() {
			if err := f(); err != nil {
				once.Do(func() { firstErr = err })
				return
			}
		}
	}
	for range 2 {
		wg.Add(1)
		go poll(func() error {
			var out struct{ Items []wireCase }
			if err := c.call("GET", "/v1/escalations?limit=1000", "bench-supervisor", nil, 200, &out); err != nil {
				return err
			}
			for _, it := range out.Items {
				if measured[it.ID] && it.Overdue && it.EscalationLevel >= level {
					note(it.ID)
				}
			}
			return nil
		})
	}
	for g := range 4 {
		wg.Add(1)
		next := g
		go poll(func() error {
			id := sample[next%len(sample)]
			next += 4
			var out wireCase
			if err := c.call("GET", "/v1/cases/"+id, "bench-supervisor", nil, 200, &out); err != nil {
				return err
			}
			if out.Overdue && out.EscalationLevel >= level {
				note(id)
			}
			return nil
		})
	}
	wg.Wait()
	var lags []time.Duration
	for _, l := range seen {
		if l < 0 {
			return dist{}, fmt.Errorf("a case showed overdue %s before its deadline", -l)
		}
		lags = append(lags, l)
	}
	if len(lags) == 0 {
		return dist{}, fmt.Errorf("no case showed overdue within 5s of its deadline")
	}
	return summarize(lags), firstErr
}

// recordedLag waits until every case has its CaseEscalated event to level
// and returns how long after its due time each was recorded, and how much of
// that passed between the start of the workflow task that decided it and
// its append. The bare timers are counted in memory; so that waiting costs
// duban's side next to nothing either, each look counts only the events of
// transactions finished since the last (from: the log's horizon before the
// first could be appended), and the cases themselves are checked once that
// count is reached. (Counting every measured case's events five times a
// second took 8 ms of PostgreSQL a time at 1,000 cases; counting every
// event since the instant, 9 ms on average at 10,000.)
func recordedLag(ctx context.Context, s *stack, ids []string, level int, from string, within time.Duration) (dist, dist, error) {
	deadline := time.Now().Add(within)
	appended := 0
	for {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE type = 'CaseEscalated' AND (data->>'level')::int = $2),
			pg_snapshot_xmin(pg_current_snapshot())::text
			FROM events WHERE tx >= $1::text::xid8 AND tx < pg_snapshot_xmin(pg_current_snapshot())`, from, level).Scan(&n, &from); err != nil {
			return dist{}, dist{}, err
		}
		appended += n
		if appended >= len(ids) {
			if err := s.db.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'CaseEscalated' AND (data->>'level')::int = $2 AND case_id = ANY($1::uuid[])`, ids, level).Scan(&n); err != nil {
				return dist{}, dist{}, err
			}
			if n >= len(ids) {
				break
			}
		}
		if time.Now().After(deadline) {
			return dist{}, dist{}, fmt.Errorf("only %d of %d escalations recorded within %s", appended, len(ids), within)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// occurred_at is the workflow's clock when its task began; recorded_at
	// is when the append's transaction began.
	rows, err := s.db.Query(ctx, `SELECT recorded_at - (data->>'due_at')::timestamptz, recorded_at - occurred_at FROM events
		WHERE type = 'CaseEscalated' AND (data->>'level')::int = $2 AND case_id = ANY($1::uuid[])`, ids, level)
	if err != nil {
		return dist{}, dist{}, err
	}
	defer rows.Close()
	var lags, inTask []time.Duration
	for rows.Next() {
		var lag, task time.Duration
		if err := rows.Scan(&lag, &task); err != nil {
			return dist{}, dist{}, err
		}
		lags, inTask = append(lags, lag), append(inTask, task)
	}
	return summarize(lags), summarize(inTask), rows.Err()
}

// logHorizon is the oldest transaction still running: every event of an
// earlier one is in the log or never will be, as postgres/stream.go reads.
func logHorizon(ctx context.Context, s *stack) (string, error) {
	var xmin string
	err := s.db.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&xmin)
	return xmin, err
}

// measureVisibleAtScale loads n open cases, through the event store, that
// all fall due at one instant, and measures how late they show overdue. The
// loaded cases have no workflows: this is the read side alone, at a scale
// opening cases through Temporal would take too long to reach here.
func visibleAtScale(ctx context.Context, s *stack, store *postgres.Store, clients, n int, logf func(string, ...any)) (dist, error) {
	due := time.Now().Add(2*time.Minute + time.Duration(n/1000)*time.Second).Truncate(time.Second)
	terms := seedTerms
	terms.SLA.Acknowledge = time.Hour
	var ids []string
	var mu sync.Mutex
	_, err := seed(ctx, store, n, func(rng *rand.Rand) postgres.CaseHistory {
		h := seedCase(rng, terms, due.Add(-time.Hour), 0)
		mu.Lock()
		ids = append(ids, h.Events[0].CaseID)
		mu.Unlock()
		return h
	}, func(done int) {})
	if err != nil {
		return dist{}, err
	}
	if time.Now().After(due.Add(-5 * time.Second)) {
		return dist{}, fmt.Errorf("loading %d cases took past their deadline", n)
	}
	logf("  %d cases loaded; all due at %s", n, due.Format(time.TimeOnly))
	return visibleLag(newCaller(s.apiBase, clients), ids, due, 1)
}

// measureVisibleAtScale measures, among many loaded cases, how soon those
// that fall due at one instant show overdue (not run when z.VisibleAt is 0).
func measureVisibleAtScale(ctx context.Context, r *benchRun) error {
	if r.z.VisibleAt == 0 {
		return nil
	}
	store, err := r.dubanStore(ctx)
	if err != nil {
		return err
	}
	r.logf("  duban: %d loaded cases due at one instant", r.z.VisibleAt)
	lag, err := visibleAtScale(ctx, r.s, store, r.z.ReadClients, r.z.VisibleAt, r.logf)
	r.fig.VisibleLagAtScale = &lag
	return err
}
