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

// Which unit's figures each role reads when it asks for a unit's (or
// every unit's): the office what it asks for, a unit its own whatever it
// asks (another's named is not found), an inspector no scorecard or
// sanction, but the sites' report.
func TestReportScopes(t *testing.T) {
	for _, tt := range []struct {
		by                 duban.Principal
		asked              string
		scorecard, reports string // the unit read, or the refusal's code
		sites              string
	}{
		{supervisor, "", "", "", ""},
		{admin, "traffic-police", "traffic-police", "traffic-police", "traffic-police"},
		{sanitation, "", "sanitation", "sanitation", "sanitation"},
		{sanitation, "sanitation", "sanitation", "sanitation", "sanitation"},
		{sanitation, "traffic-police", duban.ENOTFOUND, duban.ENOTFOUND, "sanitation"},
		{inspector, "", duban.EFORBIDDEN, duban.EFORBIDDEN, ""},
	} {
		got := func(unit string, err error) string {
			if err != nil {
				return duban.ErrorCode(err)
			}
			return unit
		}
		if g := got(tt.by.ScopeScorecard(tt.asked)); g != tt.scorecard {
			t.Errorf("%s asks for the scorecard of %q: %q, want %q", tt.by.ID, tt.asked, g, tt.scorecard)
		}
		if g := got(tt.by.ScopeSanctions(tt.asked)); g != tt.reports {
			t.Errorf("%s asks for the sanctions of %q: %q, want %q", tt.by.ID, tt.asked, g, tt.reports)
		}
		if g := got(tt.by.ScopeSiteReport(tt.asked)); g != tt.sites {
			t.Errorf("%s asks for the sites' report of %q: %q, want %q", tt.by.ID, tt.asked, g, tt.sites)
		}
	}
	b := duban.Bulletin{Rows: []duban.UnitRow{{Unit: "sanitation"}, {Unit: "traffic-police"}}}
	if got := sanitation.ScopeBulletin(b); len(got.Rows) != 1 || got.Rows[0].Unit != "sanitation" {
		t.Errorf("a unit reads the bulletin's rows %+v", got.Rows)
	}
	if got := supervisor.ScopeBulletin(b); len(got.Rows) != 2 {
		t.Errorf("the office reads the bulletin's rows %+v", got.Rows)
	}
}
