package messages

import (
	"strings"

	"github.com/duban/duban"
)

// SanctionReason says why a sanction was given, in the catalogue's
// language: the rule, by its number, and the periods on the black list
// that made it. The pages and the chat messages say it alike.
func (c Catalog) SanctionReason(sn duban.Sanction) string {
	periods := strings.Join(sn.Periods, c["punct.list"])
	var msg string
	if sn.Rule.Within > 0 {
		msg, _ = c.T("sanctions.reason.within", sn.RuleN, sn.Rule.Within, len(sn.Periods), periods)
	} else {
		msg, _ = c.T("sanctions.reason.ever", sn.RuleN, len(sn.Periods), periods)
	}
	return msg
}
