package duban_test

import (
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
)

var resident = duban.Resident("r1")

const photoID = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

// reportCmd is a resident's report of littering with one photo, as the
// policy resolves it: check in 2h, rating window 7 days.
func reportCmd() duban.OpenCase {
	tm := terms()
	tm.SLA.Check = 2 * time.Hour
	return duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: resident},
		CaseID:      "7c1e2a9b-3f4d-4e5a-8b6c-9d0e1f2a3b4c",
		Category:    "littering",
		Severity:    duban.SeverityNormal,
		Description: "垃圾堆在公交站",
		Location:    duban.Location{Lat: 39.865, Lon: 111.238},
		Evidence:    []duban.Evidence{{Attachment: photoID, Kind: "photo"}},
		Stored:      []string{photoID},
		Terms:       tm,
		RequestHash: "r1",
		Public: &duban.PublicOpen{
			Channel: duban.ChannelWeb, Categories: []string{"littering", "graffiti"}, MinPhotos: 1,
			Bounds:       &duban.Bounds{MinLat: 39.8, MinLon: 111.1, MaxLat: 39.95, MaxLon: 111.35},
			RatingWindow: 7 * 24 * time.Hour,
		},
	}
}

var points = duban.PointsDue{PointsRule: duban.PointsRule{Confirmed: 10, DailyCap: 45, MonthlyCap: 1350}}

func TestResidentReportWaitsForTheCheck(t *testing.T) {
	c, events := apply(t, duban.Case{}, reportCmd(), t0)
	if got := typesOf(events); got != "CaseReported" {
		t.Fatalf("events %s, want CaseReported alone: the office checks it first", got)
	}
	if c.Status != duban.StatusReported || c.Reporter != "resident:r1" || c.Unit != "" {
		t.Fatalf("case %s by %s for %q, want reported by resident:r1 for no unit", c.Status, c.Reporter, c.Unit)
	}
	stage, due, ok := c.RunningStage()
	if !ok || stage != duban.StageCheck || !due.Equal(t0.Add(2*time.Hour)) || !c.Deadlines.CheckBy.Equal(due) {
		t.Fatalf("running stage %s due %s (%v), want check due %s", stage, due, ok, t0.Add(2*time.Hour))
	}
	// The check stage is on the ladder: warned at -25%, escalated at 2h.
	if step, ok := c.NextStep(); !ok || step.Stage != duban.StageCheck || !step.At.Equal(t0.Add(90*time.Minute)) {
		t.Fatalf("next step %+v, want the check's warning at 1h30m", step)
	}
	c, events = apply(t, c, duban.Tick{CommandMeta: by(duban.System)}, t0.Add(2*time.Hour))
	if got := typesOf(events); got != "DeadlineWarned CaseEscalated" || c.EscalationLevel != 1 {
		t.Fatalf("tick at the check deadline: %s, level %d", got, c.EscalationLevel)
	}
	// Residents see their own report only, and command none but a rating.
	if !resident.CanSee(&c) || duban.Resident("r2").CanSee(&c) {
		t.Fatal("a resident sees their own report, and only theirs")
	}
	_, err := duban.Decide(c, duban.AddComment{CommandMeta: by(resident), Text: "hurry"}, t0.Add(3*time.Hour))
	wantCode(t, err, duban.EFORBIDDEN)
	_, err = duban.Decide(c, duban.Confirm{CommandMeta: by(resident)}, t0.Add(3*time.Hour))
	wantCode(t, err, duban.EFORBIDDEN)
	_, err = duban.Decide(c, duban.Acknowledge{CommandMeta: by(sanitation)}, t0.Add(3*time.Hour))
	wantCode(t, err, duban.ENOTFOUND)
}

func TestResidentReportRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		edit  func(*duban.OpenCase)
		code  string
		field string
	}{
		"an inspector may not open a resident's report": {func(c *duban.OpenCase) { c.By = inspector }, duban.EFORBIDDEN, ""},
		"a resident may not open an inspector's case":   {func(c *duban.OpenCase) { c.Public = nil }, duban.EFORBIDDEN, ""},
		"a category not public":                         {func(c *duban.OpenCase) { c.Category = "parking"; c.Categories = []string{"littering", "parking"} }, duban.EINVALID, "category"},
		"no photo":                                      {func(c *duban.OpenCase) { c.Evidence, c.Stored = nil, nil }, duban.EINVALID, "photo"},
		"no location":                                   {func(c *duban.OpenCase) { c.Location = duban.Location{} }, duban.EINVALID, "location"},
		"outside the city":                              {func(c *duban.OpenCase) { c.Location.Lat = 31.2 }, duban.EINVALID, "location"},
		"no channel":                                    {func(c *duban.OpenCase) { c.Public.Channel = "" }, duban.EINVALID, "channel"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := reportCmd()
			pub := *cmd.Public
			cmd.Public = &pub
			tc.edit(&cmd)
			_, err := duban.Decide(duban.Case{}, cmd, t0)
			wantCode(t, err, tc.code)
			if tc.field != "" && !hasField(err, tc.field) {
				t.Fatalf("refusal %v names no field %q", err, tc.field)
			}
		})
	}
}

func TestConfirmRoutesTheReport(t *testing.T) {
	c, _ := apply(t, duban.Case{}, reportCmd(), t0)
	p := points
	p.Today = 40 // 5 left today
	c, events := apply(t, c, duban.Confirm{CommandMeta: by(inspector), Note: "属实", Unit: "sanitation", Routing: &duban.Routing{Category: "littering"}, Points: p}, t0.Add(time.Hour))
	if got := typesOf(events); got != "ReportConfirmed CaseDispatched" {
		t.Fatalf("events %s", got)
	}
	if events[0].Actor != inspector || events[1].Actor != duban.System {
		t.Fatalf("actors %v, %v", events[0].Actor, events[1].Actor)
	}
	if c.Status != duban.StatusDispatched || c.Unit != "sanitation" || c.Public.Points != 5 || c.Deadlines.CheckBy != nil {
		t.Fatalf("after confirm: %s to %q, %d points, check_by %v", c.Status, c.Unit, c.Public.Points, c.Deadlines.CheckBy)
	}
	if want := t0.Add(time.Hour + 30*time.Minute); !c.Deadlines.AcknowledgeBy.Equal(want) {
		t.Fatalf("acknowledge by %s, want %s: counted from the confirm", c.Deadlines.AcknowledgeBy, want)
	}
	if cl := dataOf[duban.ReportConfirmed](t, events).StageClock; cl.Stage != duban.StageCheck || cl.LateSeconds != 0 {
		t.Fatalf("stage clock %+v, want the check, on time", cl)
	}
	_, err := duban.Decide(c, duban.Confirm{CommandMeta: by(inspector)}, t0.Add(2*time.Hour))
	wantCode(t, err, duban.ECONFLICT)
	// An inspector's own case is not checked.
	own := caseIn(t, duban.StatusDispatched)
	_, err = duban.Decide(own, duban.Reject{CommandMeta: by(inspector), Reason: "-"}, t0.Add(2*time.Hour))
	wantCode(t, err, duban.ECONFLICT)
}

func TestPointsWithinCaps(t *testing.T) {
	for _, tc := range []struct{ today, month, want int }{{0, 0, 10}, {40, 40, 5}, {45, 45, 0}, {0, 1345, 5}, {0, 1350, 0}} {
		p := points
		p.Today, p.Month = tc.today, tc.month
		if got := p.Earned(); got != tc.want {
			t.Errorf("today %d, month %d: earned %d, want %d", tc.today, tc.month, got, tc.want)
		}
	}
}

func TestConfirmAsDuplicate(t *testing.T) {
	original := caseIn(t, duban.StatusDispatched)
	c, _ := apply(t, duban.Case{}, reportCmd(), t0)
	c, events := apply(t, c, duban.Confirm{CommandMeta: by(supervisor), DuplicateOf: original.ID, Original: original.Ref(), Points: points}, t0.Add(time.Hour))
	if got := typesOf(events); got != "ReportConfirmed CaseCancelled" {
		t.Fatalf("events %s", got)
	}
	if c.Status != duban.StatusCancelled || c.Outcome != duban.OutcomeDuplicate || c.DuplicateOf != original.ID || c.Public.Points != 0 {
		t.Fatalf("after confirm as duplicate: %s %s of %s, %d points", c.Status, c.Outcome, c.DuplicateOf, c.Public.Points)
	}
	report, _ := apply(t, duban.Case{}, reportCmd(), t0)
	closed := caseIn(t, duban.StatusClosed)
	_, err := duban.Decide(report, duban.Confirm{CommandMeta: by(supervisor), DuplicateOf: closed.ID, Original: closed.Ref()}, t0.Add(time.Hour))
	wantCode(t, err, duban.ECONFLICT)
	_, err = duban.Decide(report, duban.Confirm{CommandMeta: by(supervisor), DuplicateOf: closed.ID}, t0.Add(time.Hour))
	wantCode(t, err, duban.EINVALID)
}

func TestRejectShowsTheReason(t *testing.T) {
	c, _ := apply(t, duban.Case{}, reportCmd(), t0)
	_, err := duban.Decide(c, duban.Reject{CommandMeta: by(inspector)}, t0.Add(time.Hour))
	wantCode(t, err, duban.EINVALID)
	c, events := apply(t, c, duban.Reject{CommandMeta: by(inspector), Reason: "照片中没有问题"}, t0.Add(time.Hour))
	if got := typesOf(events); got != "ReportRejected" || c.Status != duban.StatusCancelled || c.Outcome != duban.OutcomeInvalid || c.Public.Rejected != "照片中没有问题" {
		t.Fatalf("after reject: %s, %s %s, %q", got, c.Status, c.Outcome, c.Public.Rejected)
	}
	if c.Live(t0.Add(time.Hour)) {
		t.Fatal("a rejected report awaits nothing")
	}
}

// closedReport is a resident's report confirmed, fixed and verified,
// closed at t0+4h.
func closedReport(t *testing.T) duban.Case {
	t.Helper()
	c, _ := apply(t, duban.Case{}, reportCmd(), t0)
	c, _ = apply(t, c, duban.Confirm{CommandMeta: by(inspector), Unit: "sanitation", Points: points}, t0.Add(time.Hour))
	c, _ = apply(t, c, duban.Acknowledge{CommandMeta: by(sanitation)}, t0.Add(2*time.Hour))
	c, _ = apply(t, c, duban.Resolve{CommandMeta: by(sanitation), Note: "swept"}, t0.Add(3*time.Hour))
	c, _ = apply(t, c, duban.Verify{CommandMeta: by(inspector), Passed: true}, t0.Add(4*time.Hour))
	return c
}

func TestRatingAndReopening(t *testing.T) {
	c := closedReport(t)
	rateBy := t0.Add(4*time.Hour + 7*24*time.Hour)
	if !c.Public.RateBy.Equal(rateBy) || !c.Live(rateBy.Add(-time.Second)) || c.Live(rateBy) {
		t.Fatalf("rate by %v, want %s, and live until then", c.Public.RateBy, rateBy)
	}
	if wake, ok := c.NextWake(); !ok || !wake.Equal(rateBy) {
		t.Fatalf("next wake %s, want the end of the rating window", wake)
	}
	_, err := duban.Decide(c, duban.Rate{CommandMeta: by(duban.Resident("r2")), Rating: duban.RatingSatisfied}, t0.Add(5*time.Hour))
	wantCode(t, err, duban.ENOTFOUND)
	_, err = duban.Decide(c, duban.Rate{CommandMeta: by(resident), Rating: "great"}, t0.Add(5*time.Hour))
	wantCode(t, err, duban.EINVALID)
	c, _ = apply(t, c, duban.Rate{CommandMeta: by(resident), Rating: duban.RatingDissatisfied, Comment: "还是很脏"}, t0.Add(5*time.Hour))
	if c.Public.Rating != duban.RatingDissatisfied {
		t.Fatalf("rating %q", c.Public.Rating)
	}
	_, err = duban.Decide(c, duban.Rate{CommandMeta: by(resident), Rating: duban.RatingSatisfied}, t0.Add(6*time.Hour))
	wantCode(t, err, duban.ECONFLICT)
	_, err = duban.Decide(c, duban.Reopen{CommandMeta: by(inspector), Reason: "-"}, t0.Add(6*time.Hour))
	wantCode(t, err, duban.EFORBIDDEN)
	_, err = duban.Decide(c, duban.Reopen{CommandMeta: by(supervisor), Reason: "-"}, rateBy)
	wantCode(t, err, duban.ECONFLICT)

	c, events := apply(t, c, duban.Reopen{CommandMeta: by(supervisor), Reason: "居民不满意"}, t0.Add(6*time.Hour))
	if got := typesOf(events); got != "CaseReopened" {
		t.Fatalf("events %s", got)
	}
	if c.Status != duban.StatusInProgress || c.Unit != "sanitation" || c.ReworkCount != 1 || c.Outcome != "" || c.Public.RateBy != nil || c.Public.Rating != "" {
		t.Fatalf("after reopen: %s to %s, rework %d, outcome %q, rate by %v, rating %q", c.Status, c.Unit, c.ReworkCount, c.Outcome, c.Public.RateBy, c.Public.Rating)
	}
	if want := t0.Add(30 * time.Hour); !c.Deadlines.ResolveBy.Equal(want) || c.Deadlines.VerifyBy != nil {
		t.Fatalf("resolve by %s, want %s", c.Deadlines.ResolveBy, want)
	}
	if dataOf[duban.CaseReopened](t, events).Rating != duban.RatingDissatisfied {
		t.Fatal("the reopening records the rating it answered")
	}
	c, _ = apply(t, c, duban.Resolve{CommandMeta: by(sanitation), Note: "swept again"}, t0.Add(7*time.Hour))
	c, _ = apply(t, c, duban.Verify{CommandMeta: by(inspector), Passed: true}, t0.Add(8*time.Hour))
	c, _ = apply(t, c, duban.Rate{CommandMeta: by(resident), Rating: duban.RatingSatisfied}, t0.Add(9*time.Hour))
	if c.Status != duban.StatusClosed || c.Outcome != duban.OutcomeFixed || c.Public.Rating != duban.RatingSatisfied {
		t.Fatalf("after the second closing: %s %s rated %q", c.Status, c.Outcome, c.Public.Rating)
	}
	// An inspector's closed case is neither rated nor reopened.
	own := caseIn(t, duban.StatusClosed)
	_, err = duban.Decide(own, duban.Reopen{CommandMeta: by(supervisor), Reason: "-"}, t0.Add(6*time.Hour))
	wantCode(t, err, duban.ECONFLICT)
	if own.Live(t0.Add(6 * time.Hour)) {
		t.Fatal("an inspector's closed case awaits nothing")
	}
}

func TestPhones(t *testing.T) {
	for in, want := range map[string]string{"138 0013 8000": "13800138000", "+86-138-0013-8000": "13800138000", "8613800138000": "13800138000", "0351-1234567": "03511234567"} {
		if got, ok := duban.NormalisePhone(in); !ok || got != want {
			t.Errorf("NormalisePhone(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "12345", "call me", "138-0013-800a", "1234567890123456"} {
		if _, ok := duban.NormalisePhone(bad); ok {
			t.Errorf("NormalisePhone(%q) accepted", bad)
		}
	}
	if got := duban.MaskPhone("13800138000"); got != "138****8000" {
		t.Errorf("MaskPhone = %q", got)
	}
}

func TestPolicyPublic(t *testing.T) {
	p, err := duban.ParsePolicy("p.yaml", []byte(policyWithPublic))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.PublicCategories(), ","); got != "littering" {
		t.Fatalf("public categories %q", got)
	}
	pub := p.Public
	if pub.MinPhotos != 2 || pub.Check != 90*time.Minute || pub.RatingWindow != 3*24*time.Hour || pub.Points.DailyCap != 20 || pub.Points.Confirmed != 10 || pub.PerPhone != 5 {
		t.Fatalf("public %+v", pub)
	}
	if b := pub.Bounds; b == nil || b.MinLat != 39.8 || b.MaxLon != 111.35 {
		t.Fatalf("bounds %+v", b)
	}
	if name, ok := p.Open311Client("secret-key"); !ok || name != "fixmystreet" {
		t.Fatalf("open311 client %q, %v", name, ok)
	}
	if _, ok := p.Open311Client("other"); ok {
		t.Fatal("an unknown api_key is a client")
	}
	open := p.Resolve(duban.OpenCase{CommandMeta: by(resident), Category: "littering", Public: &duban.PublicOpen{Channel: duban.ChannelWeb}}).(duban.OpenCase)
	if open.Terms.SLA.Check != 90*time.Minute || open.Public.MinPhotos != 2 || open.Public.RatingWindow != 3*24*time.Hour {
		t.Fatalf("resolved %+v %+v", open.Terms.SLA, open.Public)
	}

	bad := strings.NewReplacer("check: 90m", "check: soon", "[[39.95, 111.35], [39.80, 111.15]]", "[[39.95]]", "daily_cap: 20", "daily_cap: -1",
		"85dbe15d75ef9308c7ae0f33c7a324cc6f4bf519a2ed2f3027bd33c140a4f9aa", "xyz").Replace(policyWithPublic)
	_, err = duban.ParsePolicy("p.yaml", []byte(bad))
	for _, want := range []string{"p.yaml:13: public.check", "p.yaml:15: public.bounds", "p.yaml:18: public.points.daily_cap", "p.yaml:23: open311.api_keys[0].key_sha256"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems %v, want %q", err, want)
		}
	}
}

const policyWithPublic = `units:
  - id: sanitation
categories:
  - code: littering
    unit: sanitation
    public: true
    sla: {normal: {acknowledge: 30m, resolve: 24h, verify: 4h}}
  - code: parking
    unit: sanitation
    sla: {normal: {acknowledge: 30m, resolve: 24h, verify: 4h}}
public:
  min_photos: 2
  check: 90m
  rating_window: 3d
  bounds: [[39.95, 111.35], [39.80, 111.15]]
  points:
    confirmed: 10
    daily_cap: 20
  limits: {per_phone: 5}
open311:
  api_keys:
    - name: fixmystreet
      key_sha256: 85dbe15d75ef9308c7ae0f33c7a324cc6f4bf519a2ed2f3027bd33c140a4f9aa
`

func typesOf(events []duban.Event) string {
	var s []string
	for _, e := range events {
		s = append(s, string(e.Type))
	}
	return strings.Join(s, " ")
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := duban.ErrorCode(err); got != code {
		t.Fatalf("%v: code %q, want %q", err, got, code)
	}
}

func hasField(err error, field string) bool {
	var e *duban.Error
	if !asError(err, &e) {
		return false
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// The satisfaction rate as an assessment weight: a unit with nothing rated
// is scored on the other weights, scaled to the whole.
func TestSatisfactionWeight(t *testing.T) {
	a := duban.Assessment{Weights: map[string]float64{"handling_rate": 60, "satisfaction_rate": 40}}
	rows := []duban.UnitRow{
		{Unit: "a", Handled: 1, OverdueOpen: 1, Rated: 4, Satisfied: 3}, // 60 × 0.5 + 40 × 0.75 = 60
		{Unit: "b", Handled: 1, OverdueOpen: 1},                         // 60 × 0.5, scaled by 100/60 = 50
		{Unit: "c", Handled: 2, Rated: 2},                               // 60 × 1 + 40 × 0 = 60
	}
	a.Finish(rows)
	got := map[string]float64{}
	for _, r := range rows {
		got[r.Unit] = *r.Score
	}
	if got["a"] != 60 || got["b"] != 50 || got["c"] != 60 {
		t.Fatalf("scores %v", got)
	}
	if r := rows[0]; r.SatisfactionRate == nil || *r.SatisfactionRate != 0.75 {
		t.Fatalf("satisfaction rate %v", r.SatisfactionRate)
	}
}

// The check is a stage the case page measures: running while the report
// waits, done (and on time or not) once confirmed.
func TestCheckStageTimes(t *testing.T) {
	_, reported := apply(t, duban.Case{}, reportCmd(), t0)
	st := duban.StageTimes(reported)
	if len(st) != 1 || st[0].Stage != duban.StageCheck || !st[0].Running || !st[0].Due.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("a report's stages: %+v", st)
	}
	c := duban.Fold(duban.Case{}, reported)
	_, confirmed := apply(t, c, duban.Confirm{CommandMeta: by(inspector), Unit: "sanitation"}, t0.Add(3*time.Hour))
	st = duban.StageTimes(append(reported, confirmed...))
	if len(st) != 3 || st[0].Stage != duban.StageCheck || st[0].Running || st[0].Done == nil || st[0].OnTime() {
		t.Fatalf("a report confirmed an hour late: %+v", st)
	}
}
