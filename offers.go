package duban

import (
	"slices"
	"time"
)

// Offers returns the names of the commands by may give case c at now, in
// the order a page shows them: what Decide would accept from by, asked of
// Decide itself with a well-formed command of each kind, so that a page's
// buttons never disagree with the rules. A command whose input decides
// whether it is allowed (an assignment to a unit, a decision on an
// extension) is offered when some input would be accepted.
func (c Case) Offers(by Principal, now time.Time) []string {
	meta := CommandMeta{By: by}
	far := now.Add(365 * 24 * time.Hour)
	const elsewhere = "\x00elsewhere" // a unit the case is not assigned to
	probes := []Command{
		Confirm{CommandMeta: meta},
		Reject{CommandMeta: meta, Reason: "-"},
		Reopen{CommandMeta: meta, Reason: "-"},
		Acknowledge{CommandMeta: meta},
		Resolve{CommandMeta: meta, Note: "-"},
		Verify{CommandMeta: meta, Passed: true},
		RequestExtension{CommandMeta: meta, Until: far, Reason: "-"},
		Dispute{CommandMeta: meta, Reason: "-"},
		Assign{CommandMeta: meta, Unit: elsewhere, Units: []string{elsewhere}},
		Urge{CommandMeta: meta, Note: "-"},
		Suspend{CommandMeta: meta, Reason: "-"},
		Resume{CommandMeta: meta},
		List{CommandMeta: meta, Reason: "-"},
		Delist{CommandMeta: meta},
		Cancel{CommandMeta: meta, Reason: "-"},
		AddComment{CommandMeta: meta, Text: "-"},
	}
	for _, e := range c.Extensions {
		if e.Status == ExtensionPending {
			probes = slices.Insert(probes, len(probes)-3, Command(DecideExtension{CommandMeta: meta, N: e.N, Approved: true}))
			break
		}
	}
	var names []string
	for _, cmd := range probes {
		if _, err := Decide(c, cmd, now); err == nil {
			names = append(names, cmd.Name())
		}
	}
	return names
}
