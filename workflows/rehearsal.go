//go:build rehearsal

package workflows

import "go.temporal.io/sdk/workflow"

// A build with the rehearsal tag is the next release as far as running
// cases can tell: its new runs get a revision after the latest, which
// records a marker as it starts, a command no earlier revision's history
// has. The cluster harness (go run ./chaos -shape cluster -release) rolls
// it out over cases in flight: had the new behaviour reached the older
// runs, their replays on the new workers would fail as non-deterministic.
// It is never built for production.

// Revision is what new runs get.
const Revision = latest + 1

// rehearse records the rehearsal revision's marker.
func (r *run) rehearse(ctx workflow.Context) {
	if r.in.Revision > latest {
		workflow.SideEffect(ctx, func(workflow.Context) any { return Revision })
	}
}
