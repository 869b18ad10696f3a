package duban_test

import (
	"testing"

	"github.com/duban/duban"
)

// What each role may read: a unit its own cases only, as not found
// otherwise; the escalation board only the campaign office.
func TestReadAccess(t *testing.T) {
	everyone := []duban.Principal{inspector, sanitation, traffic, supervisor, admin}
	for _, p := range everyone {
		mine := p.Role != duban.RoleUnit || p.Unit == "sanitation"
		if err := p.CanRead("sanitation"); (err == nil) != mine || (err != nil && duban.ErrorCode(err) != duban.ENOTFOUND) {
			t.Errorf("%s reads a sanitation case: %v", p.ID, err)
		}
		if err := p.CanRead(""); (err == nil) != (p.Role != duban.RoleUnit) {
			t.Errorf("%s reads an unassigned case: %v", p.ID, err)
		}
		err := p.MayWatchEscalations()
		if oversees := p.Role == duban.RoleSupervisor || p.Role == duban.RoleAdmin; (err == nil) != oversees || (err != nil && duban.ErrorCode(err) != duban.EFORBIDDEN) {
			t.Errorf("%s watches escalations: %v", p.ID, err)
		}
	}
	lists := []struct {
		by     duban.Principal
		asked  string
		unit   string
		anyHit bool
	}{
		{supervisor, "", "", true},
		{supervisor, "traffic-police", "traffic-police", true},
		{sanitation, "", "sanitation", true},
		{sanitation, "sanitation", "sanitation", true},
		{sanitation, "traffic-police", "sanitation", false},
	}
	for _, l := range lists {
		f, ok := l.by.ScopeList(duban.CaseFilter{Unit: l.asked, Category: "littering"})
		if f.Unit != l.unit || ok != l.anyHit || f.Category != "littering" {
			t.Errorf("%s lists unit %q: filter %+v, %v", l.by.ID, l.asked, f, ok)
		}
	}
}
