package duban_test

import (
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
)

var siteAdmin = duban.Principal{ID: "admin-1", Role: duban.RoleAdmin}

// market is a site command for the default policy's market site type.
func market(kind duban.SiteCommandKind) duban.SiteCommand {
	return duban.DefaultPolicy().ResolveSite(duban.SiteCommand{By: siteAdmin, Kind: kind, SiteID: "m-001", Fields: duban.SiteFields{
		Name: "人民路农贸市场", Type: "market", Area: "old-town", Location: duban.Location{Lat: 39.865, Lon: 111.238},
		Unit: "market-supervision", Head: &duban.SiteHead{Name: "王芳", Phone: "13800000000"}}})
}

func decideSite(t *testing.T, s duban.Site, cmd duban.SiteCommand, now time.Time) (duban.Site, []duban.SiteEvent) {
	t.Helper()
	events, err := duban.DecideSite(s, cmd, now)
	if err != nil {
		t.Fatalf("%s refused: %v", cmd.Kind, err)
	}
	for _, e := range events {
		s = duban.EvolveSite(s, e)
	}
	return s, events
}

// A site is registered, changed and retired by an admin; a registration
// repeated as it was (a second import) records nothing, one that says
// otherwise is a conflict; a change that changes nothing records nothing.
func TestSiteLifecycle(t *testing.T) {
	s, events := decideSite(t, duban.Site{}, market(duban.RegisterSite), t0)
	if len(events) != 1 || events[0].Type != "SiteRegistered" || s.Version != 1 || !s.Active || s.ID != "m-001" || s.Head.Phone != "13800000000" {
		t.Fatalf("registered %+v, %+v", s, events)
	}
	if _, again := decideSite(t, s, market(duban.RegisterSite), t0.Add(time.Hour)); len(again) != 0 {
		t.Fatalf("a repeated registration recorded %+v", again)
	}
	other := market(duban.RegisterSite)
	other.Fields.Name = "另一个市场"
	if _, err := duban.DecideSite(s, other, t0); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("a registration saying otherwise: %v", err)
	}
	change := market(duban.ChangeSite)
	change.Fields.Unit = "sanitation"
	s, events = decideSite(t, s, change, t0.Add(time.Hour))
	if len(events) != 1 || events[0].Type != "SiteChanged" || s.Unit != "sanitation" || s.Version != 2 {
		t.Fatalf("changed %+v", s)
	}
	if _, same := decideSite(t, s, change, t0.Add(2*time.Hour)); len(same) != 0 {
		t.Fatalf("a change to what it says recorded %+v", same)
	}
	stale := change
	stale.IfMatch = 1
	if _, err := duban.DecideSite(s, stale, t0); duban.ErrorCode(err) != duban.EPRECONDITION {
		t.Fatalf("a stale change: %v", err)
	}
	retire := market(duban.RetireSite)
	retire.Reason = "市场搬迁"
	s, events = decideSite(t, s, retire, t0.Add(3*time.Hour))
	if len(events) != 1 || s.Active || !s.UpdatedAt.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("retired %+v", s)
	}
	if _, err := duban.DecideSite(s, change, t0); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("a change to a retired site: %v", err)
	}
	if _, err := duban.DecideSite(duban.Site{}, change, t0); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("a change to no site: %v", err)
	}
}

// Only admins manage sites; what a site says is checked against the
// policy, every field at once.
func TestSiteRefusals(t *testing.T) {
	bySupervisor := market(duban.RegisterSite)
	bySupervisor.By = supervisor
	if _, err := duban.DecideSite(duban.Site{}, bySupervisor, t0); duban.ErrorCode(err) != duban.EFORBIDDEN {
		t.Fatalf("a supervisor registers a site: %v", err)
	}
	// Another unit's site does not exist for a unit, as its cases do not;
	// the unit answerable for it is refused, as anyone but an admin.
	site, _ := decideSite(t, duban.Site{}, market(duban.RegisterSite), t0)
	for unit, want := range map[string]string{"sanitation": duban.ENOTFOUND, "market-supervision": duban.EFORBIDDEN} {
		change := market(duban.ChangeSite)
		change.By = duban.Principal{ID: unit + "-1", Role: duban.RoleUnit, Unit: unit}
		if _, err := duban.DecideSite(site, change, t0); duban.ErrorCode(err) != want {
			t.Errorf("%s changes the market: %v, want %s", unit, err, want)
		}
	}
	bad := market(duban.RegisterSite)
	bad.SiteID = "M 001"
	bad.Fields = duban.SiteFields{Type: "mall", Area: "老城区", Unit: "parks", Head: &duban.SiteHead{}}
	_, err := duban.DecideSite(duban.Site{}, bad, t0)
	var got []string
	if e, ok := err.(*duban.Error); ok {
		for _, f := range e.Fields {
			got = append(got, f.Field)
		}
	}
	if want := "id name type unit area location head.name head.phone"; strings.Join(got, " ") != want {
		t.Fatalf("refused fields %v, want %s (%v)", got, want, err)
	}
	if e := err.(*duban.Error); !strings.Contains(e.Fields[2].Message, "market, back-street") {
		t.Fatalf("an unknown type is refused with the list: %q", e.Fields[2].Message)
	}
}

// A site's id is what an office's spreadsheet numbers it with.
func TestSiteIDs(t *testing.T) {
	for id, ok := range map[string]bool{"NM-001": true, "3.12": true, "m_1": true, "M 001": false, "-1": false, "../x": false, "点位1": false} {
		cmd := market(duban.RegisterSite)
		cmd.SiteID = id
		if _, err := duban.DecideSite(duban.Site{}, cmd, t0); (err == nil) != ok {
			t.Errorf("%q: %v", id, err)
		}
	}
}
