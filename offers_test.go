package duban_test

import (
	"slices"
	"testing"
	"time"

	"github.com/duban/duban"
)

// The commands a page offers are those the rules accept, per role and state.
func TestOffers(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	cases := []struct {
		status duban.Status
		by     duban.Principal
		want   []string
	}{
		{duban.StatusDispatched, sanitation, []string{"acknowledge", "request_extension", "dispute", "comment"}},
		{duban.StatusDispatched, traffic, nil}, // not its case: nothing
		{duban.StatusDispatched, inspector, []string{"comment"}},
		{duban.StatusDispatched, supervisor, []string{"assign", "urge", "suspend", "list", "cancel", "comment"}},
		{duban.StatusInProgress, sanitation, []string{"resolve", "request_extension", "dispute", "comment"}},
		{duban.StatusResolved, inspector, []string{"verify", "comment"}},
		{duban.StatusResolved, sanitation, []string{"comment"}},
		{duban.StatusUnrouted, supervisor, []string{"assign", "urge", "list", "cancel", "comment"}},
		{duban.StatusSuspended, admin, []string{"urge", "resume", "list", "cancel", "comment"}},
		{duban.StatusClosed, supervisor, nil},
		{duban.StatusCancelled, admin, nil},
	}
	for _, tc := range cases {
		got := caseIn(t, tc.status).Offers(tc.by, now)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s, %s: offers %v, want %v", tc.status, tc.by.ID, got, tc.want)
		}
	}

	// A listed case offers its delisting instead.
	listed, _ := apply(t, caseIn(t, duban.StatusDispatched), duban.List{CommandMeta: by(supervisor), Reason: "third time"}, now)
	if got := listed.Offers(supervisor, now); !slices.Contains(got, "delist") || slices.Contains(got, "list") {
		t.Errorf("a listed case offers %v", got)
	}

	// A pending extension request adds its decision for a supervisor.
	c, _ := apply(t, caseIn(t, duban.StatusInProgress), duban.RequestExtension{CommandMeta: by(sanitation), Until: t0.Add(48 * time.Hour), Reason: "parts"}, now)
	if got := c.Offers(supervisor, now); !slices.Contains(got, "decide_extension") {
		t.Errorf("with a pending extension a supervisor is offered %v, without decide_extension", got)
	}
	c, _ = apply(t, c, duban.DecideExtension{CommandMeta: by(supervisor), N: 1, Approved: false}, now)
	if got := c.Offers(supervisor, now); slices.Contains(got, "decide_extension") {
		t.Errorf("with no pending extension a supervisor is offered %v", got)
	}
}
