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
		{"workflow gone", serviceerror.NewNotFound("gone"), duban.ECONFLICT},
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
