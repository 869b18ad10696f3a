package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/activities"
)

// November on the default policy's business calendar (Asia/Shanghai,
// working hours 08:30–12:00 and 14:30–18:00): sanitation closes one case on
// time, leaves one overdue, has one cancelled with no further action and
// one as a duplicate (which counts nowhere); urban management resolves a
// graffiti case twice, its first fix failing verification.
type novemberCases struct {
	closed, overdue, nothingDone, duplicate, reworked string
}

func playNovember(t *testing.T, d *door, now *time.Time) novemberCases {
	t.Helper()
	at := func(day, hour, minute int) { // Shanghai time
		*now = time.Date(2026, 11, day, hour-8, minute, 0, 0, time.UTC)
	}
	var n novemberCases
	do := func(id, command, token string, body any) {
		t.Helper()
		d.call("POST", "/v1/cases/"+id+"/"+command, token, body).Expect(t, 200, nil)
	}
	at(2, 9, 0)
	n.closed = d.open(littering()).ID
	at(2, 9, 10)
	do(n.closed, "acknowledge", "dev-sanitation", nil)
	at(2, 10, 0)
	do(n.closed, "resolve", "dev-sanitation", map[string]any{"note": "swept"})
	at(2, 11, 0)
	do(n.closed, "verify", "dev-inspector", map[string]any{"passed": true})

	at(3, 9, 0)
	n.overdue = d.open(littering()).ID // 8 working hours: due 4 November 10:00
	n.nothingDone = d.open(littering()).ID
	do(n.nothingDone, "cancel", "dev-supervisor", map[string]any{"reason": "private land", "outcome": "no_further_action"})
	n.duplicate = d.open(littering()).ID
	do(n.duplicate, "cancel", "dev-supervisor", map[string]any{"reason": "reported twice", "duplicate_of": n.overdue})

	at(4, 9, 0)
	graffiti := littering()
	graffiti["category"] = "graffiti"
	n.reworked = d.open(graffiti).ID
	at(4, 9, 30)
	do(n.reworked, "acknowledge", "dev-urban-management", nil)
	at(4, 11, 0)
	do(n.reworked, "resolve", "dev-urban-management", map[string]any{"note": "painted over"})
	at(4, 15, 0)
	do(n.reworked, "verify", "dev-inspector", map[string]any{"passed": false, "note": "still legible"})
	at(5, 10, 0)
	do(n.reworked, "resolve", "dev-urban-management", map[string]any{"note": "two coats"})
	at(20, 12, 0)
	return n
}

type scorecard struct {
	From  string           `json:"from"`
	To    string           `json:"to"`
	Items []map[string]any `json:"items"`
}

func rowOf(t *testing.T, s scorecard, unit string) map[string]any {
	t.Helper()
	for _, r := range s.Items {
		if r["unit"] == unit {
			return r
		}
	}
	t.Fatalf("no row of %s in %+v", unit, s.Items)
	return nil
}

// The units' scorecards as JSON, as CSV and as the cases behind each
// count say the same, and the numbers are those worked out by hand.
func TestUnitScorecards(t *testing.T) {
	var now time.Time
	d := newDoorAt(t, func() time.Time { return now })
	n := playNovember(t, d, &now)
	const november = "from=2026-11-01&to=2026-12-01"

	var s scorecard
	d.call("GET", "/v1/reports/units?"+november, "dev-supervisor", nil).Expect(t, 200, &s)
	if s.From != "2026-11-01" || s.To != "2026-12-01" || len(s.Items) != 6 {
		t.Fatalf("scorecard %s to %s, %d rows; want every unit of the policy's 6", s.From, s.To, len(s.Items))
	}
	if u := s.Items[0]["unit"]; u != "urban-management" || s.Items[1]["unit"] != "sanitation" {
		t.Fatalf("ranked %v, %v first; want urban-management, then sanitation", u, s.Items[1]["unit"])
	}
	// sanitation: 3 dispatched (the duplicate counts nowhere); 1 handled on
	// time, 1 overdue: due 2; 1 verification, 1 closed; 1 with no further
	// action. Score: 30×0.5 + 20×0.5 + 20×(1−0) + 20×(1−0.5) + 10×(1−0) = 65.
	want := map[string]map[string]any{
		"sanitation": {"rank": 2.0, "score": 65.0, "dispatched": 3.0, "handled": 1.0, "handled_on_time": 1.0, "overdue_open": 1.0,
			"due": 2.0, "handling_rate": 0.5, "on_time_rate": 0.5, "overdue_open_rate": 0.5, "verifications": 1.0, "rework": 0.0,
			"rework_rate": 0.0, "closed": 1.0, "closure_rate": 0.5, "extensions_approved": 0.0, "extension_rate": 0.0,
			"urges": 0.0, "no_further_action": 1.0,
			"escalations":     map[string]any{"1": 0.0, "2": 0.0, "3": 0.0},
			"ack_minutes":     map[string]any{"p50": 10.0, "p90": 10.0},
			"resolve_minutes": map[string]any{"p50": 60.0, "p90": 60.0}},
		// urban management: 1 dispatched; handled twice, on time, in 120
		// minutes and in 1,140 (the second obligation began at the failed
		// verification, 15:00, and ended at 10:00 the next day); 1
		// verification, failed. Score: 30 + 20 + 20×(1−1) + 20 + 10 = 80.
		"urban-management": {"rank": 1.0, "score": 80.0, "dispatched": 1.0, "handled": 2.0, "handled_on_time": 2.0, "overdue_open": 0.0,
			"due": 2.0, "handling_rate": 1.0, "on_time_rate": 1.0, "overdue_open_rate": 0.0, "verifications": 1.0, "rework": 1.0,
			"rework_rate": 1.0, "closed": 0.0, "closure_rate": 0.0, "extensions_approved": 0.0, "extension_rate": 0.0,
			"urges": 0.0, "no_further_action": 0.0,
			"escalations":     map[string]any{"1": 0.0, "2": 0.0, "3": 0.0},
			"ack_minutes":     map[string]any{"p50": 30.0, "p90": 30.0},
			"resolve_minutes": map[string]any{"p50": 630.0, "p90": 1038.0}},
	}
	for unit, fields := range want {
		row := rowOf(t, s, unit)
		for field, v := range fields {
			if fmt.Sprint(row[field]) != fmt.Sprint(v) {
				t.Errorf("%s's %s: %v, want %v", unit, field, row[field], v)
			}
		}
	}
	if r := rowOf(t, s, "traffic-police"); r["rank"] != nil || r["score"] != nil || r["handling_rate"] != nil || r["due"] != 0.0 {
		t.Errorf("a unit with nothing due: %v", r)
	}

	// The same rows as CSV, a spreadsheet's: BOM, a header of the fields.
	res := d.call("GET", "/v1/reports/units?"+november, "dev-supervisor", nil, "Accept", "text/csv")
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !bytes.HasPrefix(res.Body, []byte("\uFEFF")) {
		t.Fatalf("CSV: %d %s %q", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	// For people: the columns and units by name.
	zh := d.call("GET", "/v1/reports/units?"+november+"&lang=zh", "dev-supervisor", nil, "Accept", "text/csv")
	if zh.Status != 200 || !bytes.HasPrefix(zh.Body, []byte("\uFEFF责任单位,排名,综合得分,")) || !bytes.Contains(zh.Body, []byte("\n环卫中心,")) {
		t.Fatalf("CSV in Chinese: %d %s", zh.Status, zh.Body)
	}
	refused(t, d.call("GET", "/v1/reports/units?"+november+"&lang=fr", "dev-supervisor", nil, "Accept", "text/csv"), 400, "lang", "must be one of zh, en")
	records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(res.Body, []byte("\uFEFF")))).ReadAll()
	if err != nil || len(records) != 7 {
		t.Fatalf("CSV: %d records, %v", len(records), err)
	}
	header := records[0]
	for i, rec := range records[1:] {
		row := s.Items[i]
		for j, col := range header {
			if got, want := rec[j], jsonCell(row, col); got != want {
				t.Errorf("CSV row %d (%s) %s: %q, JSON says %q", i+1, rec[0], col, got, want)
			}
		}
	}

	// Behind every count, its cases.
	for _, tc := range []struct {
		unit, figure string
		cases        []string
	}{
		{"sanitation", "dispatched", []string{n.closed, n.overdue, n.nothingDone}},
		{"sanitation", "handled", []string{n.closed}},
		{"sanitation", "overdue_open", []string{n.overdue}},
		{"sanitation", "due", []string{n.closed, n.overdue}},
		{"sanitation", "closed", []string{n.closed}},
		{"sanitation", "no_further_action", []string{n.nothingDone}},
		{"sanitation", "escalations", nil},
		{"urban-management", "rework", []string{n.reworked}},
		{"urban-management", "handled_on_time", []string{n.reworked}},
	} {
		var got struct{ Items []string }
		d.call("GET", "/v1/reports/units/"+tc.unit+"/cases?figure="+tc.figure+"&"+november, "dev-supervisor", nil).Expect(t, 200, &got)
		if !sameSet(got.Items, tc.cases) {
			t.Errorf("%s's %s: %v, want %v", tc.unit, tc.figure, got.Items, tc.cases)
		}
		if tc.unit == "sanitation" && tc.figure != "escalations" && float64(len(got.Items)) != rowOf(t, s, tc.unit)[tc.figure] {
			t.Errorf("%s's %s lists %d cases, counts %v", tc.unit, tc.figure, len(got.Items), rowOf(t, s, tc.unit)[tc.figure])
		}
	}

	// Filters: the graffiti alone.
	var graffiti scorecard
	d.call("GET", "/v1/reports/units?category=graffiti&"+november, "dev-admin", nil).Expect(t, 200, &graffiti)
	if r := rowOf(t, graffiti, "sanitation"); r["dispatched"] != 0.0 {
		t.Errorf("sanitation's graffiti: %v", r)
	}
	// October: nothing happened.
	var october scorecard
	d.call("GET", "/v1/reports/units?from=2026-10-01&to=2026-11-01", "dev-supervisor", nil).Expect(t, 200, &october)
	if r := rowOf(t, october, "sanitation"); r["dispatched"] != 0.0 || r["rank"] != nil {
		t.Errorf("sanitation in October: %v", r)
	}

	// The inspectors: four opened (the duplicate counts nowhere), two
	// verifications, both on time.
	var inspectors struct{ Items []map[string]any }
	d.call("GET", "/v1/reports/inspectors?"+november, "dev-supervisor", nil).Expect(t, 200, &inspectors)
	if len(inspectors.Items) != 1 || fmt.Sprint(inspectors.Items[0]) != "map[inspector:inspector-1 on_time_verification_rate:1 opened:4 verifications:2 verified_on_time:2]" {
		t.Errorf("inspectors: %v", inspectors.Items)
	}
}

// jsonCell is how the CSV writes the JSON row's field col.
func jsonCell(row map[string]any, col string) string {
	v, ok := row[col]
	if !ok {
		for _, nested := range []string{"escalations", "ack_minutes", "resolve_minutes"} {
			if key, found := strings.CutPrefix(col, nested+"_"); found {
				v = row[nested].(map[string]any)[key]
			}
		}
	}
	switch v := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(got, " "), w) {
			return false
		}
	}
	return true
}

// A unit reads its own row and its own cases; another unit's are not
// there for it; an inspector reads no scorecard.
func TestScorecardsAsAUnitSeesThem(t *testing.T) {
	var now time.Time
	d := newDoorAt(t, func() time.Time { return now })
	n := playNovember(t, d, &now)
	const november = "from=2026-11-01&to=2026-12-01"
	var s scorecard
	d.call("GET", "/v1/reports/units?"+november, "dev-sanitation", nil).Expect(t, 200, &s)
	if len(s.Items) != 1 || s.Items[0]["unit"] != "sanitation" || s.Items[0]["handled"] != 1.0 {
		t.Fatalf("sanitation reads %v", s.Items)
	}
	d.call("GET", "/v1/reports/units?unit=sanitation&"+november, "dev-sanitation", nil).Expect(t, 200, &s)
	var cases struct{ Items []string }
	d.call("GET", "/v1/reports/units/sanitation/cases?figure=overdue_open&"+november, "dev-sanitation", nil).Expect(t, 200, &cases)
	if len(cases.Items) != 1 || cases.Items[0] != n.overdue {
		t.Fatalf("sanitation's overdue cases: %v", cases.Items)
	}
	refused(t, d.call("GET", "/v1/reports/units?unit=urban-management&"+november, "dev-sanitation", nil), 404, "", "")
	refused(t, d.call("GET", "/v1/reports/units/urban-management/cases?figure=handled&"+november, "dev-sanitation", nil), 404, "", "")
	refused(t, d.call("GET", "/v1/reports/units?"+november, "dev-inspector", nil), 403, "", "")
	refused(t, d.call("GET", "/v1/reports/inspectors?"+november, "dev-sanitation", nil), 403, "", "")
}

// Bad input is answered 400, naming the field.
func TestReportRefusals(t *testing.T) {
	d := newDoor(t)
	for _, tc := range []struct{ path, field, message string }{
		{"/v1/reports/units?from=2026-12-01&to=2026-11-01", "to", "must be after from"},
		{"/v1/reports/units?from=2026-11-01&to=2026-11-01", "to", "must be after from"},
		{"/v1/reports/units?from=2025-01-01&to=2026-01-03", "to", "must be at most 366 days"},
		{"/v1/reports/units?from=2026-11-31&to=2026-12-01", "from", "must be a date"},
		{"/v1/reports/units?from=1%20Nov&to=2026-12-01", "from", "must be a date"},
		{"/v1/reports/units?to=2026-12-01", "from", "is required"},
		{"/v1/reports/units?from=2026-11-01", "to", "is required"},
		{"/v1/reports/units?from=2026-11-01&to=2026-12-01&unit=police", "unit", "is not a unit of the policy"},
		{"/v1/reports/units?from=2026-11-01&to=2026-12-01&figure=handled", "figure", "is not a filter here"},
		{"/v1/reports/units?from=2026-11-01&to=2026-12-01&from=2026-11-02", "from", "is given more than once"},
		{"/v1/reports/units/sanitation/cases?from=2026-11-01&to=2026-12-01&figure=score", "figure", "must be one of"},
		{"/v1/reports/units/sanitation/cases?from=2026-11-01&to=2026-12-01", "figure", "must be one of"},
		{"/v1/reports/units/police/cases?from=2026-11-01&to=2026-12-01&figure=handled", "unit", "is not a unit of the policy"},
		{"/v1/reports/inspectors?from=2026-11-01&to=2026-13-01", "to", "must be a date"},
		{"/v1/reports/bulletins/2026-13", "period", "must be a month"},
		{"/v1/reports/bulletins/november", "period", "must be a month"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			refused(t, d.call("GET", tc.path, "dev-supervisor", nil), 400, tc.field, tc.message)
		})
	}
	// A period of a year, even a leap one, is allowed.
	d.call("GET", "/v1/reports/units?from=2028-01-01&to=2029-01-01", "dev-supervisor", nil).Expect(t, 200, nil)
}

// A published bulletin is served as it was kept, its rows ranked; a unit
// reads its own row of it; later events do not change it.
func TestBulletins(t *testing.T) {
	var now time.Time
	d := newDoorAt(t, func() time.Time { return now })
	var list struct{ Items []duban.Bulletin }
	d.call("GET", "/v1/reports/bulletins", "dev-supervisor", nil).Expect(t, 200, &list)
	if len(list.Items) != 0 {
		t.Fatalf("bulletins before any: %+v", list.Items)
	}
	refused(t, d.call("GET", "/v1/reports/bulletins/2026-11", "dev-supervisor", nil), 404, "", "")

	n := playNovember(t, d, &now)
	policy := duban.DefaultPolicy()
	period, err := policy.AssessmentPeriod("2026-11")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	counted, err := d.store.UnitCounts(ctx, duban.ReportQuery{Period: period, Now: period.To})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := d.store.PublishBulletin(ctx, duban.Bulletin{Period: period, Rows: policy.Scorecard(counted, "")}); !ok || err != nil {
		t.Fatalf("published %v, %v", ok, err)
	}
	var b struct {
		Period string           `json:"period"`
		From   time.Time        `json:"from"`
		To     time.Time        `json:"to"`
		Items  []map[string]any `json:"items"`
	}
	d.call("GET", "/v1/reports/bulletins/2026-11", "dev-supervisor", nil).Expect(t, 200, &b)
	published := b.Items
	if b.Period != "2026-11" || !b.From.Equal(time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC)) || len(b.Items) != 6 ||
		b.Items[0]["unit"] != "urban-management" || b.Items[1]["score"] != 65.0 {
		t.Fatalf("bulletin %+v", b)
	}
	d.call("GET", "/v1/reports/bulletins", "dev-supervisor", nil).Expect(t, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "2026-11" || list.Items[0].Rows != nil {
		t.Fatalf("bulletins %+v", list.Items)
	}
	var own struct{ Items []map[string]any }
	d.call("GET", "/v1/reports/bulletins/2026-11", "dev-sanitation", nil).Expect(t, 200, &own)
	if len(own.Items) != 1 || own.Items[0]["unit"] != "sanitation" {
		t.Fatalf("sanitation reads %+v", own.Items)
	}
	refused(t, d.call("GET", "/v1/reports/bulletins", "dev-inspector", nil), 403, "", "")

	// In December the office finds sanitation's overdue case was never a
	// real problem: cancelled as invalid, it counts nowhere, November's
	// included; but November's bulletin stays as it was published.
	now = time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)
	d.call("POST", "/v1/cases/"+n.overdue+"/cancel", "dev-supervisor", map[string]any{"reason": "a painted mark, not litter"}).Expect(t, 200, nil)
	if ok, err := d.store.PublishBulletin(ctx, duban.Bulletin{Period: period}); ok || err != nil {
		t.Fatalf("published again: %v, %v", ok, err)
	}
	var again struct{ Items []map[string]any }
	d.call("GET", "/v1/reports/bulletins/2026-11", "dev-supervisor", nil).Expect(t, 200, &again)
	if fmt.Sprint(again.Items) != fmt.Sprint(published) {
		t.Fatalf("the bulletin changed:\n%v\nwas\n%v", again.Items, published)
	}
	var later scorecard
	d.call("GET", "/v1/reports/units?from=2026-11-01&to=2026-12-01", "dev-supervisor", nil).Expect(t, 200, &later)
	if r := rowOf(t, later, "sanitation"); r["overdue_open"] != 0.0 || r["dispatched"] != 2.0 || published[1]["overdue_open"] != 1.0 {
		t.Fatalf("November read in December: %v; as published: %v", r, published[1])
	}
}

// A bulletin published at the period's end carries its red and black
// lists and the sanctions they bring; the office follows a sanction up
// once; a unit reads its own sanctions only, an inspector none.
func TestSanctions(t *testing.T) {
	var now time.Time
	d := newDoorAt(t, func() time.Time { return now })
	playNovember(t, d, &now)
	policy := duban.DefaultPolicy()
	period, err := policy.AssessmentPeriod("2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&activities.Bulletins{Policy: policy, Store: d.store}).PublishBulletin(context.Background(), period); err != nil {
		t.Fatal(err)
	}
	now = time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)
	var b duban.Bulletin
	d.call("GET", "/v1/reports/bulletins/2026-11", "dev-supervisor", nil).Expect(t, 200, &b)
	black := map[string]float64{}
	for _, l := range b.BlackList.Units {
		black[l.Unit] = l.Score
	}
	// Nobody reached the red list's 90; both units scored are under 85,
	// the worst first.
	if black["sanitation"] != 65 || black["urban-management"] != 80 || len(b.RedList.Units) != 0 || b.BlackList.Units[0].Unit != "sanitation" {
		t.Fatalf("lists: red %+v, black %+v", b.RedList.Units, b.BlackList.Units)
	}
	if len(b.Sanctions) != len(b.BlackList.Units) {
		t.Fatalf("%d sanctions for %d black-listed", len(b.Sanctions), len(b.BlackList.Units))
	}
	var other string
	for _, sn := range b.Sanctions {
		if sn.Action != duban.ActionNotice || sn.RuleN != 4 || fmt.Sprint(sn.Periods) != "[2026-11]" || sn.Status != duban.SanctionOpen {
			t.Errorf("November's sanction %+v: want a notice by rule 4, the first black-listing", sn)
		}
		if sn.Unit != "sanitation" {
			other = sn.ID
		}
	}
	var list struct{ Items []duban.Sanction }
	d.call("GET", "/v1/sanctions?status=open", "dev-supervisor", nil).Expect(t, 200, &list)
	if len(list.Items) != len(b.Sanctions) {
		t.Fatalf("open sanctions %+v", list.Items)
	}
	d.call("GET", "/v1/sanctions", "dev-sanitation", nil).Expect(t, 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != "2026-11.sanitation" {
		t.Fatalf("sanitation lists %+v", list.Items)
	}
	var own duban.Bulletin
	d.call("GET", "/v1/reports/bulletins/2026-11", "dev-sanitation", nil).Expect(t, 200, &own)
	if len(own.Sanctions) != 1 || len(own.BlackList.Units) != 1 || own.BlackList.Units[0].Unit != "sanitation" || len(own.RedList.Units) != 0 {
		t.Fatalf("sanitation reads the bulletin's lists %+v %+v and sanctions %+v", own.RedList, own.BlackList, own.Sanctions)
	}
	if other != "" {
		refused(t, d.call("GET", "/v1/sanctions/"+other, "dev-sanitation", nil), 404, "", "")
		refused(t, d.call("GET", "/v1/sanctions?unit="+strings.TrimPrefix(other, "2026-11."), "dev-sanitation", nil), 404, "", "")
	}
	refused(t, d.call("GET", "/v1/sanctions", "dev-inspector", nil), 403, "", "")
	refused(t, d.call("GET", "/v1/sanctions?status=closed", "dev-supervisor", nil), 400, "status", "must be open or done")
	refused(t, d.call("GET", "/v1/sanctions/2026-11.nobody", "dev-supervisor", nil), 404, "", "")

	done := "/v1/sanctions/2026-11.sanitation/done"
	refused(t, d.call("POST", done, "dev-sanitation", map[string]any{"note": "we did"}), 403, "", "")
	refused(t, d.call("POST", done, "dev-supervisor", map[string]any{"note": ""}), 400, "note", "is required")
	refused(t, d.call("POST", done, "dev-supervisor", map[string]any{"note": "约谈", "at": now.Add(time.Hour)}), 400, "at", "is in the future")
	refused(t, d.call("POST", done, "dev-supervisor", map[string]any{"note": "约谈", "at": "yesterday"}), 400, "", "")
	var after duban.Sanction
	d.call("POST", done, "dev-supervisor", map[string]any{"note": "已约谈环卫中心主任", "at": now.Add(-time.Hour)}).Expect(t, 200, &after)
	if after.Status != duban.SanctionDone || after.FollowUp == nil || after.FollowUp.Note != "已约谈环卫中心主任" ||
		!after.FollowUp.At.Equal(now.Add(-time.Hour)) || after.FollowUp.By.ID != "supervisor-1" {
		t.Fatalf("after the follow-up %+v", after)
	}
	refused(t, d.call("POST", done, "dev-supervisor", map[string]any{"note": "again"}), 409, "", "")
	var events struct{ Items []duban.SanctionEvent }
	d.call("GET", "/v1/sanctions/2026-11.sanitation/events", "dev-sanitation", nil).Expect(t, 200, &events)
	if len(events.Items) != 2 || events.Items[0].Type != duban.EventSanctionImposed || events.Items[1].Type != duban.EventSanctionDone {
		t.Fatalf("events %+v", events.Items)
	}
	d.call("GET", "/v1/sanctions?status=open&unit=sanitation", "dev-supervisor", nil).Expect(t, 200, &list)
	if len(list.Items) != 0 {
		t.Fatalf("still open: %+v", list.Items)
	}
}
