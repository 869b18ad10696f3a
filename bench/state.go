package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/api/adminservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// workflowSizes is what Temporal keeps of a sample of workflows after a
// burst, as means: the mutable state as stored (written whole, with its
// execution info, on each of the workflow's tasks) and the history, all of
// it and from the timer's firing on (what the burst's task wrote).
type workflowSizes struct {
	Sample        int     `json:"sample"`
	MutableState  float64 `json:"mutable_state_bytes"`
	ExecutionInfo float64 `json:"execution_info_bytes"`
	Events        float64 `json:"history_events"`
	HistoryBytes  float64 `json:"history_bytes"`
	BurstEvents   float64 `json:"burst_events"`
	BurstBytes    float64 `json:"burst_bytes"`
	// TimedOut is how many of the burst's workflow tasks timed out (a task
	// that waited on the worker's sticky queue past its schedule-to-start
	// timeout goes to the shared queue, with the whole history).
	TimedOut float64 `json:"burst_tasks_timed_out"`
}

// sizesOf reads the mutable state and the history of 20 of the workflows
// ids, spread over them (the first opened fall due no earlier than the
// last, but are not dispatched in that order).
func (s *stack) sizesOf(ctx context.Context, ids []string) (workflowSizes, error) {
	conn, err := grpc.NewClient(s.temporal.HostPort, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return workflowSizes{}, err
	}
	defer conn.Close()
	admin := adminservice.NewAdminServiceClient(conn)
	ids = spread(ids, 20)
	var out workflowSizes
	for _, id := range ids {
		if err := s.settled(ctx, id); err != nil {
			return out, err
		}
		ms, err := admin.DescribeMutableState(ctx, &adminservice.DescribeMutableStateRequest{
			Namespace: namespace, Execution: &common.WorkflowExecution{WorkflowId: id}})
		if err != nil {
			return out, fmt.Errorf("mutable state of %s: %w", id, err)
		}
		out.MutableState += float64(proto.Size(ms.GetDatabaseMutableState()))
		out.ExecutionInfo += float64(proto.Size(ms.GetDatabaseMutableState().GetExecutionInfo()))
		it := s.tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		fired := false
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return out, fmt.Errorf("history of %s: %w", id, err)
			}
			n := float64(proto.Size(e))
			out.Events++
			out.HistoryBytes += n
			if e.GetEventType() == enumspb.EVENT_TYPE_TIMER_FIRED {
				fired = true
			}
			if fired {
				out.BurstEvents++
				out.BurstBytes += n
				if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT {
					out.TimedOut++
				}
			}
		}
	}
	out.Sample = len(ids)
	for _, f := range []*float64{&out.MutableState, &out.ExecutionInfo, &out.Events, &out.HistoryBytes, &out.BurstEvents, &out.BurstBytes, &out.TimedOut} {
		*f = math.Round(*f/float64(len(ids))*10) / 10
	}
	return out, nil
}

// settled waits, for up to a minute, until workflow id has no workflow task
// under way: the last escalation or wake is recorded from within a task,
// before the task's own events are.
func (s *stack) settled(ctx context.Context, id string) error {
	for range 600 {
		d, err := s.tc.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return fmt.Errorf("describe %s: %w", id, err)
		}
		if d.GetPendingWorkflowTask() == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("workflow %s still has a workflow task under way after a minute", id)
}

// spread is n of ids, evenly spaced.
func spread(ids []string, n int) []string {
	if len(ids) <= n {
		return ids
	}
	out := make([]string, n)
	for i := range out {
		out[i] = ids[i*len(ids)/n]
	}
	return out
}
