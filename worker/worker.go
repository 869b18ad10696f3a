// Package worker wires a Temporal worker that runs case workflows and their
// activities, and the bulletin workflow.
package worker

import (
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/duban/duban"
	"github.com/duban/duban/activities"
	"github.com/duban/duban/app"
	"github.com/duban/duban/workflows"
)

// Options are the settings of duban's worker; benchmarks give their bare
// workers the same.
func Options() sdkworker.Options {
	return sdkworker.Options{
		// The SDK's default of two pollers leaves workflow tasks waiting
		// when many cases are busy at once.
		MaxConcurrentWorkflowTaskPollers: 16,
		MaxConcurrentActivityTaskPollers: 4,
		// When many deadlines fall due at once, the tasks for this worker's
		// cached workflows queue up on its sticky queue, and one that waits
		// there longer than this goes to the shared queue: two more history
		// writes (the timeout, the task scheduled again) and a replay of
		// the whole history on the worker, which slows the rest of the
		// burst. At 1,000 due at once, the SDK's default of 5 s had them
		// recorded in 10.1 s (p99) instead of 7.4 s with 10 s. At 10,000,
		// the burst outlasts any timeout a command can afford: 203 s with
		// 10 s, 87 to 100 s with 60 s (BENCHMARKS.md, the Monday-morning
		// burst).
		//
		// The other side: a command to a case whose task is queued for a
		// worker that died, or was stopping as the command came (the
		// server sends tasks to a sticky queue polled in the last 10 s),
		// waits this long before another worker takes it. With a minute,
		// such a command outlasted the API's 30 s and answered 503
		// (TestWorkerRestart, under the whole suite's load); 20 s keeps it
		// answered.
		StickyScheduleToStartTimeout: 20 * time.Second,
	}
}

// Store is what the worker's activities need of the store.
type Store interface {
	activities.EventStore
	activities.BulletinStore
	app.SiteStore
}

// New returns a worker for the case task queue, not yet started: the case
// workflows and their activities, the bulletin workflow, which publishes
// each period's bulletin by policy, the rounds' ladders (and the rounds
// the policy schedules, planned as the API plans them), and the probe a starting process runs
// before it calls itself ready (workflows.AwaitFirstTask).
func New(c client.Client, store Store, policy *duban.Policy, taskQueue string) sdkworker.Worker {
	if taskQueue == "" {
		taskQueue = workflows.TaskQueue
	}
	w := sdkworker.New(c, taskQueue, Options())
	w.RegisterWorkflow(workflows.CaseWorkflow)
	w.RegisterActivity(&activities.Activities{Store: store})
	w.RegisterWorkflow(workflows.BulletinWorkflow)
	w.RegisterActivity(&activities.Bulletins{Policy: policy, Store: store})
	w.RegisterWorkflow(workflows.RoundWorkflow)
	w.RegisterActivity(&activities.Rounds{Policy: policy, Store: store, Planner: &app.Service{Policy: policy, Sites: store}})
	w.RegisterWorkflow(workflows.ProbeWorkflow)
	return w
}
