package workflows

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// toTemporal carries a domain error across Temporal as an ApplicationError
// whose type is the error code, so the client can rebuild it.
func toTemporal(err error) error {
	var e *duban.Error
	if err == nil || !errors.As(err, &e) {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(e.Message, e.Code, temporal.ApplicationErrorOptions{
		NonRetryable: true,
		Details:      []any{e.Fields, e.Text},
	})
}

// domainCodes are the codes toTemporal sends.
var domainCodes = map[string]bool{
	duban.EINVALID: true, duban.EUNAUTHORIZED: true, duban.EFORBIDDEN: true, duban.ENOTFOUND: true,
	duban.ECONFLICT: true, duban.EPRECONDITION: true, duban.ETOOMANY: true, duban.EUNAVAILABLE: true,
	duban.EINTERNAL: true,
}

// fromTemporal turns what the Temporal client returns into a domain error
// where it means one, and leaves other errors wrapped for the logs.
func fromTemporal(err error) error {
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && domainCodes[appErr.Type()] {
		e := &duban.Error{Code: appErr.Type(), Message: appErr.Message()}
		if appErr.HasDetails() {
			if appErr.Details(&e.Fields, &e.Text) != nil { // an earlier release's: no Text
				_ = appErr.Details(&e.Fields)
			}
		}
		return e
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// The workflow is gone: the case ended, or never was.
		return fmt.Errorf("%w: %w", app.ErrEnded, err)
	}
	var timedOut *client.WorkflowUpdateServiceTimeoutOrCanceledError
	var deadline *serviceerror.DeadlineExceeded
	var notReady *serviceerror.WorkflowNotReady // its workflow task failed
	if errors.As(err, &timedOut) || errors.As(err, &deadline) || errors.As(err, &notReady) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return duban.Errorf(duban.EUNAVAILABLE, "the case engine did not answer in time; the command may still be applied: check the case before repeating it, or repeat it with the same Idempotency-Key")
	}
	var unavailable *serviceerror.Unavailable
	var exhausted *serviceerror.ResourceExhausted
	if errors.As(err, &unavailable) || errors.As(err, &exhausted) {
		return duban.Errorf(duban.EUNAVAILABLE, "the case engine is unavailable or busy; try again shortly")
	}
	return err
}
