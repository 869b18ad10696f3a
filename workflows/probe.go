package workflows

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
)

// ProbeWorkflow does in its one workflow task what a case's first task asks
// of the Temporal server beyond running: it writes every case search
// attribute (unsetting them, so that the probe is found by no query for
// cases). The server checks them against its own cache of the namespace,
// which may not yet know attributes just registered (it refreshes every few
// seconds): a case opened then has its first task refused and retried ten
// seconds later, its deadlines late by as much. AwaitFirstTask runs it until
// it passes before a worker calls itself ready.
func ProbeWorkflow(ctx workflow.Context) error {
	return workflow.UpsertTypedSearchAttributes(ctx,
		attrStatus.ValueUnset(), attrUnit.ValueUnset(), attrCategory.ValueUnset(), attrOverdue.ValueUnset())
}

// AwaitFirstTask starts ProbeWorkflow on taskQueue, which a started worker
// polls, until one completes its workflow task, and returns then: a case
// opened from then on has its first task taken and accepted. A probe whose
// task the server refuses (the attributes not yet in its cache, or a worker
// of an older release without the probe took it) is terminated and another
// started at once, rather than waiting for the server's retry. It gives up
// after timeout, with the last refusal.
func AwaitFirstTask(ctx context.Context, c client.Client, taskQueue string, timeout time.Duration) error {
	taskQueue = cmp.Or(taskQueue, TaskQueue)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		err := probe(ctx, c, taskQueue)
		if err == nil {
			return nil
		}
		if ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("no case workflow task ran on task queue %s within %s (is a worker polling it?): %w", taskQueue, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// probe runs one ProbeWorkflow and returns once its task completed, or
// why it did not.
func probe(ctx context.Context, c client.Client, taskQueue string) error {
	id := "duban-probe-" + uuid.NewString()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                taskQueue,
		WorkflowExecutionTimeout: time.Minute,
	}, ProbeWorkflow)
	if err != nil {
		return err
	}
	events := c.GetWorkflowHistory(ctx, id, run.GetRunID(), true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for events.HasNext() {
		e, err := events.Next()
		if err != nil {
			return err
		}
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			return nil
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			terminate(c, id, run.GetRunID())
			return errors.New(describeFailure(e.GetWorkflowTaskFailedEventAttributes()))
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
			return errors.New("the probe ended without running")
		}
	}
	return errors.New("the probe's history ended without its task")
}

func describeFailure(a *historypb.WorkflowTaskFailedEventAttributes) string {
	cause := a.GetCause().String()
	if msg := a.GetFailure().GetMessage(); msg != "" {
		return cause + ": " + msg
	}
	return cause
}

// terminate ends a probe whose task was refused, so that the server does
// not retry it; should that fail, its execution timeout ends it.
func terminate(c client.Client, id, runID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.TerminateWorkflow(ctx, id, runID, "readiness probe refused")
}
