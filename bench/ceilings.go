package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/duban/duban/worker"
)

// The ceilings: what the same Temporal server, worker settings and database
// do with nothing of duban's in the way.

const bareQueue = "bench-bare"

// blob is an Update's argument and answer, about as large as a case.
type blob struct{ Data string }

var caseSized = blob{Data: strings.Repeat("x", 1500)}

// BareWorkflow takes Updates and answers them at once, as a case workflow
// would if deciding, storing and folding cost nothing.
func BareWorkflow(ctx workflow.Context) error {
	answer := func(ctx workflow.Context, b blob) (blob, error) { return b, nil }
	for _, name := range []string{"open", "cmd"} {
		if err := workflow.SetUpdateHandler(ctx, name, answer); err != nil {
			return err
		}
	}
	return workflow.Await(ctx, func() bool { return false })
}

// ShapedWorkflow takes Updates as a case workflow takes its commands, with
// none of duban's own work: each runs a local activity (the append) and
// moves the run's one timer (the next deadline), and the one after
// len(commandSteps) commands ends the run (a verified case closes). Beside
// BareWorkflow it shows what Temporal itself charges for the shape of
// duban's commands, and so how much of a command's cost is duban's.
func ShapedWorkflow(ctx workflow.Context) error {
	updates := 0
	var cancelTimer workflow.CancelFunc
	answer := func(ctx workflow.Context, b blob) (blob, error) {
		updates++
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
		if err := workflow.ExecuteLocalActivity(ctx, echo, b).Get(ctx, &b); err != nil {
			return blob{}, err
		}
		if updates > len(commandSteps) {
			return b, nil // the run ends, and its timer with it
		}
		if cancelTimer != nil {
			cancelTimer()
		}
		var timerCtx workflow.Context
		timerCtx, cancelTimer = workflow.WithCancel(ctx)
		workflow.NewTimer(timerCtx, time.Duration(updates)*time.Hour)
		return b, nil
	}
	for _, name := range []string{"open", "cmd"} {
		if err := workflow.SetUpdateHandler(ctx, name, answer); err != nil {
			return err
		}
	}
	return workflow.Await(ctx, func() bool { return updates > len(commandSteps) && workflow.AllHandlersFinished(ctx) })
}

func echo(_ context.Context, b blob) (blob, error) { return b, nil }

// TimerWorkflow sleeps until due, then records when it woke through a local
// activity, as a case records an escalation.
func TimerWorkflow(ctx workflow.Context, due time.Time) error {
	if err := workflow.Sleep(ctx, due.Sub(workflow.Now(ctx))); err != nil {
		return err
	}
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteLocalActivity(ctx, recordWake, due).Get(ctx, nil)
}

// wakes collects TimerWorkflow's lags; the bare worker runs in this process.
var wakes latencies

func recordWake(_ context.Context, due time.Time) error {
	wakes.add(time.Since(due))
	return nil
}

func startBareWorker(tc client.Client) (sdkworker.Worker, error) {
	w := sdkworker.New(tc, bareQueue, worker.Options())
	w.RegisterWorkflow(BareWorkflow)
	w.RegisterWorkflow(ShapedWorkflow)
	w.RegisterWorkflow(TimerWorkflow)
	w.RegisterActivity(recordWake)
	w.RegisterActivity(echo)
	return w, w.Start()
}

// run calls op from clients goroutines until stop says so, and returns how
// many calls succeeded and the first error.
func run(clients int, stop func(i int64) bool, op func(client int) error) (int64, error) {
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop(n.Load()) {
				if err := op(c); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return n.Load(), firstErr
}

func forDuration(d time.Duration) func(int64) bool {
	end := time.Now().Add(d)
	return func(int64) bool { return time.Now().After(end) }
}

func forCount(n int64) func(int64) bool { return func(i int64) bool { return i >= n } }

// tally accumulates a measure over interleaved rounds: its latencies, how
// many calls and in how much time.
type tally struct {
	lat     latencies
	n       int64
	elapsed time.Duration
}

func (t *tally) rate() float64 { return float64(t.n) / t.elapsed.Seconds() }

// ceilingOpen opens workflows (BareWorkflow or ShapedWorkflow) by
// Update-with-Start until stop, as duban opens cases, into t, and appends
// their ids to each client's.
func ceilingOpen(ctx context.Context, tc client.Client, wf any, clients int, stop func(int64) bool, t *tally, ids [][]string) error {
	start := time.Now()
	n, err := run(clients, stop, func(c int) error {
		id := "ceiling-" + uuid.NewString()
		began := time.Now()
		op := tc.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID: id, TaskQueue: bareQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		}, wf)
		h, err := tc.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op,
			UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: "open", Args: []any{caseSized}, WaitForStage: client.WorkflowUpdateStageCompleted},
		})
		if err == nil {
			var out blob
			err = h.Get(ctx, &out)
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", id, err)
		}
		t.lat.add(time.Since(began))
		ids[c] = append(ids[c], id)
		return nil
	})
	t.n += n
	t.elapsed += time.Since(start)
	return err
}

// updateRun is where each client is in its own workflows. A bare workflow
// takes any number of Updates, so its clients cycle through theirs; a
// shaped one takes per, as a case takes its commands, and then has ended.
type updateRun struct {
	ids  [][]string
	next []int
	per  int // 0: any number
}

func newUpdateRun(ids [][]string, per int) *updateRun {
	return &updateRun{ids: ids, next: make([]int, len(ids)), per: per}
}

// id is the workflow client c sends its next Update to.
func (u *updateRun) id(c int) (string, error) {
	ids, i := u.ids[c], u.next[c]
	u.next[c]++
	switch {
	case len(ids) == 0:
		return "", fmt.Errorf("client %d opened no workflow", c)
	case u.per == 0:
		return ids[i%len(ids)], nil
	case i/u.per >= len(ids):
		return "", fmt.Errorf("client %d has used up its %d workflows", c, len(ids))
	}
	return ids[i/u.per], nil
}

// ceilingUpdate sends Updates to running workflows until stop, each client
// to its own, as duban's clients send commands to their own cases.
func ceilingUpdate(ctx context.Context, tc client.Client, u *updateRun, stop func(int64) bool, t *tally) error {
	start := time.Now()
	n, err := run(len(u.ids), stop, func(c int) error {
		id, err := u.id(c)
		if err != nil {
			return err
		}
		began := time.Now()
		h, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: "cmd", Args: []any{caseSized}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			var out blob
			err = h.Get(ctx, &out)
		}
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		t.lat.add(time.Since(began))
		return nil
	})
	t.n += n
	t.elapsed += time.Since(start)
	return err
}

// ceilingTimers starts n workflows whose timers are all due at one instant
// and returns how late they woke, and how the burst went. With profileDir
// set, it profiles the processes for profileFor from just before the
// instant.
func ceilingTimers(ctx context.Context, s *stack, clients, n int, startRate float64, profileDir string) (dist, burst, error) {
	tc := s.tc
	wakes = latencies{}
	// As the escalation phase does, leave the server a quiet moment before
	// the instant.
	due := time.Now().Add(time.Duration(float64(n)/startRate*1.3*float64(time.Second)) + 10*time.Second)
	var mu sync.Mutex
	var ids []string
	_, err := run(clients, forCount(int64(n)), func(int) error {
		id := "timer-" + uuid.NewString()
		_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: bareQueue}, TimerWorkflow, due)
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		return err
	})
	if err != nil {
		return dist{}, burst{}, fmt.Errorf("start timers: %w", err)
	}
	if time.Now().After(due) {
		return dist{}, burst{}, fmt.Errorf("starting %d timer workflows took past their due time; lower the count", n)
	}
	measured := s.measureBurst(ctx, ids, due)
	profiled := func() error { return nil }
	if profileDir != "" {
		time.Sleep(time.Until(due.Add(-time.Second)))
		profiled = s.captureProfiles(filepath.Join(profileDir, "timers"))
	}
	deadline := due.Add(15 * time.Minute)
	for time.Now().Before(deadline) {
		if d := wakes.dist(); d.N >= n {
			b, err := measured(due.Add(time.Duration(d.Max * float64(time.Millisecond))))
			return d, b, errors.Join(err, profiled())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return wakes.dist(), burst{}, fmt.Errorf("only %d of %d timers fired within 15 minutes", wakes.dist().N, n)
}
