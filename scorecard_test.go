package duban_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
)

// Periods are months in the policy's time zone, beginning on its
// period_start_day and named after the month of their last day.
func TestAssessmentPeriods(t *testing.T) {
	p := duban.DefaultPolicy() // Asia/Shanghai, periods from the 1st
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	nov, err := p.AssessmentPeriod("2026-11")
	if err != nil || !nov.From.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, shanghai)) || !nov.To.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, shanghai)) {
		t.Fatalf("2026-11: %+v, %v", nov, err)
	}
	// 30 November 16:30 UTC is 1 December 00:30 in Shanghai: December's.
	if got := p.AssessmentPeriodOf(time.Date(2026, 11, 30, 16, 30, 0, 0, time.UTC)); got.Name != "2026-12" {
		t.Fatalf("period of 1 December, Shanghai: %+v", got)
	}
	p.Assessment.PeriodStartDay = 21
	if got, _ := p.AssessmentPeriod("2026-11"); !got.From.Equal(time.Date(2026, 10, 21, 0, 0, 0, 0, shanghai)) || !got.To.Equal(time.Date(2026, 11, 21, 0, 0, 0, 0, shanghai)) {
		t.Fatalf("2026-11 from the 21st: %+v", got)
	}
	for day, want := range map[int]string{20: "2026-11", 21: "2026-12"} {
		if got := p.AssessmentPeriodOf(time.Date(2026, 11, day, 12, 0, 0, 0, shanghai)); got.Name != want {
			t.Errorf("period of 2026-11-%d: %s, want %s", day, got.Name, want)
		}
	}
	if jan, _ := p.AssessmentPeriod("2027-01"); !jan.From.Equal(time.Date(2026, 12, 21, 0, 0, 0, 0, shanghai)) {
		t.Fatalf("a period across the year's end: %+v", jan)
	}
}

// A report's period: dates in the policy's time zone, from before to, at
// most a year; every bad input named by its field.
func TestReportPeriod(t *testing.T) {
	p := duban.DefaultPolicy()
	if got, err := p.ReportPeriod("2026-11-01", "2026-12-01"); err != nil || got.To.Sub(got.From) != 30*24*time.Hour {
		t.Fatalf("November: %+v, %v", got, err)
	}
	for _, tc := range []struct{ from, to, field, message string }{
		{"2026-12-01", "2026-11-01", "to", "must be after from"},
		{"2026-11-01", "2026-11-01", "to", "must be after from"},
		{"2025-01-01", "2026-01-03", "to", "must be at most 366 days after from"},
		{"2026-11-1", "2026-12-01", "from", "must be a date"},
		{"", "2026-12-01", "from", "is required"},
		{"2026-11-01", "tomorrow", "to", "must be a date"},
	} {
		_, err := p.ReportPeriod(tc.from, tc.to)
		var e *duban.Error
		if !asError(err, &e) || e.Code != duban.EINVALID || e.Fields[0].Field != tc.field || !strings.HasPrefix(e.Fields[0].Message, tc.message) {
			t.Errorf("%s to %s: %v, want %s %q", tc.from, tc.to, err, tc.field, tc.message)
		}
	}
	if _, err := p.ReportPeriod("2024-01-01", "2025-01-01"); err != nil {
		t.Fatalf("a leap year: %v", err)
	}
}

// Finish computes due, the rates and the score by SPEC.md's formula, and
// ranks the units with something due by score, then by id.
func TestFinishScores(t *testing.T) {
	rows := []duban.UnitRow{
		// due 4: handling 3/4, on time 2/4, overdue 1/4, rework 1/2, extension 1/4:
		// 30×0.75 + 20×0.5 + 20×(1−0.5) + 20×(1−0.25) + 10×(1−0.25) = 22.5+10+10+15+7.5 = 65
		{Unit: "sanitation", Handled: 3, HandledOnTime: 2, OverdueOpen: 1, Verifications: 2, Rework: 1, ExtensionsApproved: 1, Closed: 1},
		// nothing due: not ranked, no rates, no score
		{Unit: "parks", Dispatched: 2},
		// due 1, no verifications: rework rate null, counted as 0 in the
		// score (nothing reworked): 30+20+20+20+10 = 100
		{Unit: "publicity", Handled: 1, HandledOnTime: 1},
		// the worst: 2 due, none handled, no verifications: still scored and
		// ranked, last: 0+0+20×(1−0)+20×(1−1)+10×(1−0) = 30
		{Unit: "waterworks", OverdueOpen: 2, Dispatched: 2},
		// due 2, all on time, one verification passed: 30+20+20+20+10 = 100
		{Unit: "traffic-police", Handled: 2, HandledOnTime: 2, Verifications: 1},
	}
	duban.DefaultPolicy().Assessment.Finish(rows)
	got := []string{}
	for _, r := range rows {
		s := r.Unit + ":"
		if r.Rank != nil {
			s += "#" + strconv.Itoa(*r.Rank)
		}
		if r.Score != nil {
			s += "=" + strconv.FormatFloat(*r.Score, 'f', -1, 64)
		}
		got = append(got, s)
	}
	if strings.Join(got, " ") != "publicity:#1=100 traffic-police:#2=100 sanitation:#3=65 waterworks:#4=30 parks:" {
		t.Fatalf("ranked %v", got)
	}
	s := rows[2]
	if s.Due != 4 || *s.HandlingRate != 0.75 || *s.OnTimeRate != 0.5 || *s.OverdueOpenRate != 0.25 || *s.ReworkRate != 0.5 || *s.ClosureRate != 0.25 || *s.ExtensionRate != 0.25 {
		t.Fatalf("rates %+v", s)
	}
	if p := rows[0]; p.ReworkRate != nil {
		t.Fatalf("a rework rate without verifications is shown null, whatever the score counts: %+v", p)
	}
	if p := rows[4]; p.HandlingRate != nil || p.Score != nil || p.Escalations["1"] != 0 || len(p.Escalations) != 3 {
		t.Fatalf("nothing due %+v", p)
	}
}

// Percentiles interpolate as SQL's percentile_cont.
func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 10}
	if p := duban.Percentile(v, 0.5); *p != 3 {
		t.Fatalf("p50 %v", *p)
	}
	if p := duban.Percentile(v, 0.9); *p < 7.6-1e-9 || *p > 7.6+1e-9 { // 4 + (10−4)×0.6
		t.Fatalf("p90 %v", *p)
	}
	if duban.Percentile(nil, 0.5) != nil {
		t.Fatal("p50 of nothing")
	}
}
