package workflows

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"google.golang.org/grpc"

	"github.com/duban/duban"
)

// Dial connects to Temporal as every duban process does, logging to logger
// (the SDK's own lines as component temporal-sdk) and reporting the SDK's
// metrics to metrics (nil: nowhere). A workflow task the server refuses is
// logged with its case (see refusals), not as the SDK's line without it.
// gRPC compression is off: between duban and its Temporal server (the
// same host or the same network) it costs CPU on both ends and saves
// nothing worth having.
func Dial(ctx context.Context, hostPort, namespace string, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	watch := &refusals{logger: logger}
	return client.DialContext(ctx, client.Options{
		HostPort:       hostPort,
		Namespace:      namespace,
		Logger:         log.NewStructuredLogger(slog.New(watch.sdkLines(logger.Handler())).With("component", "temporal-sdk")),
		MetricsHandler: metrics,
		ConnectionOptions: client.ConnectionOptions{
			GrpcCompression: &client.GrpcCompressionNone{},
			DialOptions:     []grpc.DialOption{grpc.WithChainUnaryInterceptor(watch.intercept)},
		},
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
	out, err := retryNotReady(ctx, func() (duban.Case, error) { return c.open(ctx, cmd) })
	return out, fromTemporal(err)
}

func (c *Client) open(ctx context.Context, cmd duban.OpenCase) (duban.Case, error) {
	start := c.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       cmd.CaseID,
		TaskQueue:                c.taskQueue(),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A finished case keeps its id; only a run that failed to open may
		// be started again.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
	}, CaseWorkflow, Input{CaseID: cmd.CaseID, HistoryLimit: c.HistoryLimit, Revision: Revision})
	h, err := c.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions:          update("open:"+cmd.RequestHash, cmd),
	})
	return answer(ctx, h, err)
}

// Execute sends cmd to the case's workflow and returns the case after it.
// updateID, when not empty, makes a repeated command (same id) return the
// first one's answer instead of running twice.
func (c *Client) Execute(ctx context.Context, caseID string, cmd duban.Command, updateID string) (duban.Case, error) {
	if updateID == "" {
		updateID = uuid.NewString() // one id for every attempt below
	}
	out, err := retryNotReady(ctx, func() (duban.Case, error) { return c.execute(ctx, caseID, cmd, updateID) })
	return out, fromTemporal(err)
}

func (c *Client) execute(ctx context.Context, caseID string, cmd duban.Command, updateID string) (duban.Case, error) {
	opts := update(updateID, cmd)
	opts.WorkflowID = caseID
	h, err := c.Temporal.UpdateWorkflow(ctx, opts)
	return answer(ctx, h, err)
}

// update is the Update that gives cmd to a case and waits until it is done.
func update(updateID string, cmd duban.Command) client.UpdateWorkflowOptions {
	return client.UpdateWorkflowOptions{
		UpdateID:     updateID,
		UpdateName:   cmd.Name(),
		Args:         []any{cmd},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	}
}

// answer is the case an Update answered with, or the error of sending it.
func answer(ctx context.Context, h client.WorkflowUpdateHandle, err error) (duban.Case, error) {
	var out duban.Case
	if err == nil {
		err = h.Get(ctx, &out)
	}
	return out, err
}

// retryNotReady repeats call, a few times and while ctx lasts, when the
// Temporal server answers that the workflow task which was to run the update
// failed (serviceerror.WorkflowNotReady: seen when an overloaded server loses
// a shard under load). The update was not accepted then; repeated under the
// same update id, it runs once, or, if an earlier attempt had recorded its
// events before the task failed, the case recognises them as its own and
// answers without recording them twice.
func retryNotReady(ctx context.Context, call func() (duban.Case, error)) (duban.Case, error) {
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := call()
		var notReady *serviceerror.WorkflowNotReady
		if err == nil || attempt == 5 || !errors.As(err, &notReady) {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (c *Client) taskQueue() string {
	if c.TaskQueue == "" {
		return TaskQueue
	}
	return c.TaskQueue
}
