package workflows

import (
	"context"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/duban/duban"
)

// Dial connects to Temporal as every duban process does. gRPC compression
// is off: between duban and its Temporal server (the same host or the same
// network) it costs CPU on both ends and saves nothing worth having.
func Dial(ctx context.Context, hostPort, namespace string, logger log.Logger) (client.Client, error) {
	return client.DialContext(ctx, client.Options{
		HostPort:          hostPort,
		Namespace:         namespace,
		Logger:            logger,
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}},
	})
}

// Client sends commands to case workflows and waits for their answers.
type Client struct {
	Temporal  client.Client
	TaskQueue string // default TaskQueue
	// HistoryLimit is passed to new workflows (0: DefaultHistoryLimit).
	HistoryLimit int
}

// Open starts the case's workflow and opens the case in one round trip
// (Update-with-Start), answering with the routed case. If the workflow is
// already running, as when an open is retried, the update goes to it and the
// case decides: the same request gets the case back, another one a conflict.
func (c *Client) Open(ctx context.Context, cmd duban.OpenCase) (duban.Case, error) {
	start := c.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       cmd.CaseID,
		TaskQueue:                c.taskQueue(),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A finished case keeps its id; only a run that failed to open may
		// be started again.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
	}, CaseWorkflow, Input{CaseID: cmd.CaseID, HistoryLimit: c.HistoryLimit})
	h, err := c.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID:     "open:" + cmd.RequestHash,
			UpdateName:   cmd.Name(),
			Args:         []any{cmd},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return duban.Case{}, fromTemporal(err)
	}
	var out duban.Case
	if err := h.Get(ctx, &out); err != nil {
		return duban.Case{}, fromTemporal(err)
	}
	return out, nil
}

// Execute sends cmd to the case's workflow and returns the case after it.
// updateID, when not empty, makes a repeated command (same id) return the
// first one's answer instead of running twice.
func (c *Client) Execute(ctx context.Context, caseID string, cmd duban.Command, updateID string) (duban.Case, error) {
	h, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   caseID,
		UpdateID:     updateID,
		UpdateName:   cmd.Name(),
		Args:         []any{cmd},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return duban.Case{}, fromTemporal(err)
	}
	var out duban.Case
	if err := h.Get(ctx, &out); err != nil {
		return duban.Case{}, fromTemporal(err)
	}
	return out, nil
}

func (c *Client) taskQueue() string {
	if c.TaskQueue == "" {
		return TaskQueue
	}
	return c.TaskQueue
}
