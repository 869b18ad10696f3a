package workflows_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/workflows"
)

var resident = duban.Principal{ID: "resident:r1", Role: duban.RoleResident}

func reportCmd() duban.OpenCase {
	cmd := openCmd()
	cmd.By, cmd.Unit = resident, ""
	cmd.Terms.SLA.Check = 2 * time.Hour
	cmd.Public = &duban.PublicOpen{Channel: duban.ChannelWeb, Categories: []string{"littering"}, RatingWindow: 7 * 24 * time.Hour}
	return cmd
}

// A resident's report: checked, fixed, closed; the run stays for the
// rating window, in which the reporter rates it and the office reopens
// it; closed again, rated, and the run ends when the window does.
func TestResidentReportKeepsItsRunForTheRating(t *testing.T) {
	h := newHarness(t)
	h.at(0, reportCmd(), func(c duban.Case, err error) {
		if err != nil || c.Status != duban.StatusReported || c.Deadlines.CheckBy == nil {
			t.Errorf("report answered %+v, %v", c, err)
		}
	})
	h.at(3*time.Hour, duban.Confirm{CommandMeta: by(inspector), Unit: "sanitation"}, h.ok) // after the check's level 1
	h.at(3*time.Hour+10*time.Minute, duban.Acknowledge{CommandMeta: by(sanitation)}, h.ok)
	h.at(5*time.Hour, duban.Resolve{CommandMeta: by(sanitation), Note: "swept"}, h.ok)
	h.at(6*time.Hour, duban.Verify{CommandMeta: by(inspector), Passed: true}, h.ok)
	h.at(30*time.Hour, duban.Rate{CommandMeta: by(resident), Rating: duban.RatingDissatisfied}, h.ok)
	h.at(31*time.Hour, duban.Reopen{CommandMeta: by(supervisor), Reason: "居民不满意"}, func(c duban.Case, err error) {
		if err != nil || c.Status != duban.StatusInProgress || c.ReworkCount != 1 {
			t.Errorf("reopen answered %+v, %v", c, err)
		}
	})
	h.at(32*time.Hour, duban.Resolve{CommandMeta: by(sanitation), Note: "swept again"}, h.ok)
	h.at(33*time.Hour, duban.Verify{CommandMeta: by(inspector), Passed: true}, h.ok)
	h.at(34*time.Hour, duban.Rate{CommandMeta: by(resident), Rating: duban.RatingSatisfied}, h.ok)
	h.run(workflows.Input{})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatalf("the run ends cleanly: %v", err)
	}
	if end, want := h.env.Now(), t0.Add(33*time.Hour+7*24*time.Hour); end.Before(want) {
		t.Fatalf("the run ended at %s, before the rating window's end %s", end, want)
	}
	want := "[CaseReported DeadlineWarned CaseEscalated ReportConfirmed CaseDispatched CaseAcknowledged CaseResolved VerificationPassed CaseClosed " +
		"ReporterRated CaseReopened CaseResolved VerificationPassed CaseClosed ReporterRated]"
	if got := fmt.Sprint(h.store.types()); got != want {
		t.Fatalf("events %s\nwant %s", got, want)
	}
}
