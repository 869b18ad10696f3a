package workflows

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// refusals logs each workflow task whose completion the Temporal server
// refuses, with the case it belongs to. The SDK reports such a refusal
// (search attributes the server does not know, a command it rejects) only
// as an INFO line without the workflow, and the server tries the task
// again after its timeout: the case is late by that much, and its log
// must say which case and why.
//
// A completion carries only the task's opaque token, so the tokens of the
// tasks polled (or handed back with a completion) are remembered with
// their workflow until the task is completed or refused.
type refusals struct {
	logger *slog.Logger
	mu     sync.Mutex
	tasks  map[string]polled
	// said counts the refusals logged here by the server's message, which
	// the SDK then logs again as an INFO line of its own (see sdkLines).
	said map[string]int
}

// polled is a workflow task the worker took.
type polled struct {
	workflowID, runID, workflowType string
	at                              time.Time
}

// maxRemembered bounds the tokens kept: beyond it, those of tasks taken
// longer ago than staleTask (never answered: a worker stopped mid-task) go.
const (
	maxRemembered = 4096
	staleTask     = 5 * time.Minute
)

// intercept is a gRPC client interceptor (an inner one: it sees each
// attempt of the SDK's retries).
func (r *refusals) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	switch req := req.(type) {
	case *workflowservice.PollWorkflowTaskQueueRequest:
		if err == nil {
			r.remember(reply.(*workflowservice.PollWorkflowTaskQueueResponse))
		}
	case *workflowservice.RespondWorkflowTaskCompletedRequest:
		if err == nil {
			r.forget(req.GetTaskToken())
			r.remember(reply.(*workflowservice.RespondWorkflowTaskCompletedResponse).GetWorkflowTask())
		} else if !retried(err) {
			r.refused(req.GetTaskToken(), err)
		}
	case *workflowservice.RespondWorkflowTaskFailedRequest:
		if err == nil || !retried(err) {
			r.forget(req.GetTaskToken())
		}
	}
	return err
}

// retried reports whether the SDK tries a call that failed with err again
// (or gave up because the worker is stopping): nothing to say yet.
func retried(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Canceled, codes.Aborted:
		return true
	}
	return false
}

func (r *refusals) remember(task *workflowservice.PollWorkflowTaskQueueResponse) {
	if len(task.GetTaskToken()) == 0 {
		return // an empty poll
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tasks == nil {
		r.tasks = map[string]polled{}
	}
	if len(r.tasks) >= maxRemembered {
		for token, t := range r.tasks {
			if now.Sub(t.at) > staleTask {
				delete(r.tasks, token)
			}
		}
	}
	r.tasks[string(task.GetTaskToken())] = polled{
		workflowID: task.GetWorkflowExecution().GetWorkflowId(), runID: task.GetWorkflowExecution().GetRunId(),
		workflowType: task.GetWorkflowType().GetName(), at: now,
	}
}

func (r *refusals) forget(token []byte) (polled, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tasks[string(token)]
	delete(r.tasks, string(token))
	return t, ok
}

// refused logs a completion the server would not take. NotFound is the
// server saying the task is no longer current (it timed out and went
// elsewhere, or the workflow ended): a warning. Anything else means the
// task will fail again until something changes: an error.
func (r *refusals) refused(token []byte, err error) {
	t, ok := r.forget(token)
	r.mu.Lock()
	if r.said == nil {
		r.said = map[string]int{}
	}
	if len(r.said) < maxRemembered {
		r.said[status.Convert(err).Message()]++
	}
	r.mu.Unlock()
	level, msg := slog.LevelError, "the Temporal server refused a workflow task: it runs again after the task timeout, and the case waits until then"
	if status.Code(err) == codes.NotFound {
		level, msg = slog.LevelWarn, "a workflow task was no longer current when it completed"
	}
	if ok && t.workflowType == probeWorkflowName {
		level = slog.LevelDebug // AwaitFirstTask is waiting for this to stop
	}
	attrs := []any{"error", err}
	if ok {
		key := "workflow"
		if t.workflowType == caseWorkflowName {
			key = "case"
		}
		attrs = append(attrs, key, t.workflowID, "run", t.runID, "workflow_type", t.workflowType)
	}
	r.logger.Log(context.Background(), level, msg, attrs...)
}

// The type names of CaseWorkflow and ProbeWorkflow, as workers register them.
const (
	caseWorkflowName  = "CaseWorkflow"
	probeWorkflowName = "ProbeWorkflow"
)

// sdkLines passes the SDK's log lines to h, but for its INFO line "Task
// processing failed with error" about a refusal refused already logged
// (with the case, at its own level): that one goes at DEBUG.
func (r *refusals) sdkLines(h slog.Handler) slog.Handler { return sdkLines{Handler: h, r: r} }

type sdkLines struct {
	slog.Handler
	r *refusals
}

const sdkTaskFailed = "Task processing failed with error"

func (s sdkLines) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Message == sdkTaskFailed && s.r.saidAlready(rec) {
		if !s.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		rec.Level = slog.LevelDebug
	}
	return s.Handler.Handle(ctx, rec)
}

func (s sdkLines) WithAttrs(attrs []slog.Attr) slog.Handler {
	return sdkLines{Handler: s.Handler.WithAttrs(attrs), r: s.r}
}

func (s sdkLines) WithGroup(name string) slog.Handler {
	return sdkLines{Handler: s.Handler.WithGroup(name), r: s.r}
}

// saidAlready reports whether rec's error is a refusal logged already,
// and counts it as said twice.
func (r *refusals) saidAlready(rec slog.Record) bool {
	var msg string
	rec.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "Error" {
			msg = status.Convert(err).Message()
			return false
		}
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.said[msg] == 0 {
		return false
	}
	if r.said[msg]--; r.said[msg] == 0 {
		delete(r.said, msg)
	}
	return true
}
