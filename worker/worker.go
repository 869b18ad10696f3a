// Package worker wires a Temporal worker that runs case workflows and their
// activities, and the bulletin workflow.
package worker

import (
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/duban/duban"
	"github.com/duban/duban/activities"
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
		// cached workflows queue up on its sticky queue. The SDK's default
		// of 5 s moved those that waited longer to the shared queue, to be
		// dispatched again with their whole history: 1,000 escalations due
		// in one second were recorded in 10 s (p99) instead of 7.4 s. A
		// worker that died is still noticed after 10 s, well within a
		// command's 30 s.
		StickyScheduleToStartTimeout: 10 * time.Second,
	}
}

// Store is what the worker's activities need of the store.
type Store interface {
	activities.EventStore
	activities.BulletinStore
}

// New returns a worker for the case task queue, not yet started: the case
// workflows and their activities, and the bulletin workflow, which
// publishes each period's bulletin by policy.
func New(c client.Client, store Store, policy *duban.Policy, taskQueue string) sdkworker.Worker {
	if taskQueue == "" {
		taskQueue = workflows.TaskQueue
	}
	w := sdkworker.New(c, taskQueue, Options())
	w.RegisterWorkflow(workflows.CaseWorkflow)
	w.RegisterActivity(&activities.Activities{Store: store})
	w.RegisterWorkflow(workflows.BulletinWorkflow)
	w.RegisterActivity(&activities.Bulletins{Policy: policy, Store: store})
	return w
}
