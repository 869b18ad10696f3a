package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// What the Temporal client returns becomes the refusal a client of the API
// sees: a domain refusal keeps its code, an overloaded or slow engine is a
// 503 to retry (never a 500), anything else stays an internal error.
func TestFromTemporal(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code string // "" when the error must stay unclassified (500)
	}{
		{"domain refusal", toTemporal(duban.Errorf(duban.ECONFLICT, "not now")), duban.ECONFLICT},
		{"update timed out", client.NewWorkflowUpdateServiceTimeoutOrCanceledError(serviceerror.NewDeadlineExceeded("slow")), duban.EUNAVAILABLE},
		{"server deadline", fmt.Errorf("failed workflow start: %w", serviceerror.NewDeadlineExceeded("slow")), duban.EUNAVAILABLE},
		{"context deadline", context.DeadlineExceeded, duban.EUNAVAILABLE},
		{"server busy", fmt.Errorf("failed workflow update: %w", serviceerror.NewResourceExhausted(0, "busy")), duban.EUNAVAILABLE},
		{"workflow task failed", serviceerror.NewWorkflowNotReady("task failed"), duban.EUNAVAILABLE},
		{"server unavailable", serviceerror.NewUnavailable("down"), duban.EUNAVAILABLE},
		{"other application error", temporal.NewApplicationError("boom", "SomethingElse"), ""},
		{"other", errors.New("boom"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fromTemporal(tc.err)
			if errors.Is(got, app.ErrEnded) {
				t.Fatalf("fromTemporal(%v) says the workflow has ended", tc.err)
			}
			var e *duban.Error
			switch {
			case tc.code == "" && errors.As(got, &e):
				t.Fatalf("fromTemporal(%v) = %v, want it left unclassified", tc.err, got)
			case tc.code != "" && (!errors.As(got, &e) || e.Code != tc.code):
				t.Fatalf("fromTemporal(%v) = %v, want code %s", tc.err, got, tc.code)
			}
		})
	}
}

// A workflow that is gone tells the application layer the case has ended;
// the case as stored then says why the command is refused.
func TestWorkflowGoneIsEnded(t *testing.T) {
	if err := fromTemporal(fmt.Errorf("update: %w", serviceerror.NewNotFound("workflow execution already completed"))); !errors.Is(err, app.ErrEnded) {
		t.Fatalf("got %v", err)
	}
}

// An update whose workflow task failed is repeated (under the same update
// id, which the caller's closure keeps) a few times; other errors are not.
func TestRetryNotReady(t *testing.T) {
	notReady := serviceerror.NewWorkflowNotReady("task failed")
	for _, tc := range []struct {
		name  string
		errs  []error // what each attempt returns; nil: success
		calls int
		ok    bool
	}{
		{"succeeds after two failed tasks", []error{notReady, notReady, nil}, 3, true},
		{"gives up after five", []error{notReady, notReady, notReady, notReady, notReady, nil}, 5, false},
		{"a refusal is not repeated", []error{toTemporal(duban.Errorf(duban.ECONFLICT, "no")), nil}, 1, false},
		{"nor is an unavailable server", []error{serviceerror.NewUnavailable("down"), nil}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			_, err := retryNotReady(context.Background(), func() (duban.Case, error) {
				calls++
				return duban.Case{}, tc.errs[calls-1]
			})
			if calls != tc.calls || (err == nil) != tc.ok {
				t.Fatalf("%d calls, error %v; want %d calls, success %v", calls, err, tc.calls, tc.ok)
			}
		})
	}
}
