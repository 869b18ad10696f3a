package workflows

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// A case's workflow task the server refuses is an ERROR in duban's log,
// naming the case and the server's reason; a probe's is not (the worker
// is waiting for that to stop); a task that timed out and completed late
// is a warning.
func TestRefusedTasksAreLoggedWithTheirCase(t *testing.T) {
	var logs bytes.Buffer
	r := &refusals{logger: slog.New(slog.NewTextHandler(&logs, nil))}
	poll := func(token, workflowID, workflowType string) {
		t.Helper()
		reply := &workflowservice.PollWorkflowTaskQueueResponse{
			TaskToken:         []byte(token),
			WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: "run-" + workflowID},
			WorkflowType:      &commonpb.WorkflowType{Name: workflowType},
		}
		if err := r.intercept(context.Background(), "Poll", &workflowservice.PollWorkflowTaskQueueRequest{}, new(workflowservice.PollWorkflowTaskQueueResponse),
			nil, answering(reply, nil)); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(token string, err error) {
		t.Helper()
		got := r.intercept(context.Background(), "Complete", &workflowservice.RespondWorkflowTaskCompletedRequest{TaskToken: []byte(token)},
			new(workflowservice.RespondWorkflowTaskCompletedResponse), nil, answering(&workflowservice.RespondWorkflowTaskCompletedResponse{}, err))
		if got != err {
			t.Fatalf("the interceptor changed the answer: %v", got)
		}
	}
	refusal := status.Error(codes.InvalidArgument, "BadSearchAttributes: Namespace default has no mapping defined for search attribute CaseUnit")

	poll("t1", "case-1", "CaseWorkflow")
	poll("t2", "case-2", "CaseWorkflow")
	poll("t3", "duban-probe-1", "ProbeWorkflow")
	poll("t4", "case-4", "CaseWorkflow")
	complete("t1", refusal)
	complete("t2", nil)
	complete("t3", refusal)
	complete("t4", status.Error(codes.NotFound, "Workflow task not found."))
	complete("t5", status.Error(codes.Unavailable, "the server is restarting")) // retried by the SDK: nothing said yet

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged:\n%s", logs.String())
	}
	if l := lines[0]; !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "case=case-1") || !strings.Contains(l, "no mapping defined for search attribute CaseUnit") {
		t.Errorf("the refusal: %s", l)
	}
	if l := lines[1]; !strings.Contains(l, "level=WARN") || !strings.Contains(l, "case=case-4") {
		t.Errorf("the late completion: %s", l)
	}
	if len(r.tasks) != 0 {
		t.Errorf("tokens kept after their tasks ended: %v", r.tasks)
	}

	// The SDK's own line about each refusal (INFO, without the workflow)
	// goes at DEBUG; its lines about anything else stay as they were.
	logs.Reset()
	sdk := log.NewStructuredLogger(slog.New(r.sdkLines(slog.NewTextHandler(&logs, nil))))
	sdk.Info("Task processing failed with error", "Error", serviceerror.NewInvalidArgument("BadSearchAttributes: Namespace default has no mapping defined for search attribute CaseUnit"))
	sdk.Info("Task processing failed with error", "Error", serviceerror.NewNotFound("Workflow task not found."))
	sdk.Info("Task processing failed with error", "Error", serviceerror.NewInvalidArgument("BadSearchAttributes: Namespace default has no mapping defined for search attribute CaseUnit"))
	sdk.Info("Task processing failed with error", "Error", serviceerror.NewInvalidArgument("BadSearchAttributes: Namespace default has no mapping defined for search attribute CaseUnit"))
	sdk.Info("Started Worker")
	if got := strings.Count(logs.String(), "Task processing failed"); got != 1 || !strings.Contains(logs.String(), "Started Worker") {
		t.Errorf("the SDK's lines after two refusals and a late completion were logged:\n%s", logs.String())
	}
}

// answering is an invoker that answers reply, or err.
func answering(reply proto.Message, err error) grpc.UnaryInvoker {
	return func(_ context.Context, _ string, _, out any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if err != nil {
			return err
		}
		proto.Merge(out.(proto.Message), reply)
		return nil
	}
}
