package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/duban/duban/internal/apitest"
)

// GET /metrics, read with Prometheus's own parser: requests by route,
// commands by outcome, cases by status, how late escalations were recorded,
// the Temporal SDK's and the Go runtime's.
func TestMetrics(t *testing.T) {
	s := newStack(t, shortPolicy) // acknowledge in 2 s, escalated at 2 s
	s.start("serve")
	var c wireCase
	s.call("POST", "/v1/cases", "dev-inspector", littering).Expect(t, 201, &c)
	s.call("POST", "/v1/cases/"+c.ID+"/comments", "dev-sanitation", map[string]any{"text": "seen"}).Expect(t, 200, nil)
	s.call("POST", "/v1/cases/"+c.ID+"/resolve", "dev-sanitation", map[string]any{"note": "done"}).Expect(t, 409, nil)
	time.Sleep(3 * time.Second) // the acknowledge deadline passes: level 1 recorded

	var families map[string]*dto.MetricFamily
	var res apitest.Response
	deadline := time.Now().Add(10 * time.Second)
	for {
		res = s.call("GET", "/metrics", "", nil)
		if res.Status != 200 {
			t.Fatalf("GET /metrics: %d %s", res.Status, res.Body)
		}
		var err error
		var parser expfmt.TextParser
		if families, err = parser.TextToMetricFamilies(strings.NewReader(string(res.Body))); err != nil {
			t.Fatalf("the metrics do not parse: %v", err)
		}
		if seriesSum(families, "duban_escalation_lag_seconds", "level", "1") > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every series passes the linter of `promtool check metrics`.
	problems, err := promlint.New(strings.NewReader(string(res.Body))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promtool check metrics: %s: %s", p.Metric, p.Text)
	}
	for _, want := range []struct {
		family, label, value string
		atLeast              float64
	}{
		{"duban_http_requests_total", "route", "/v1/cases", 1},
		{"duban_http_requests_total", "route", "/v1/cases/{id}/resolve", 1},
		{"duban_http_request_duration_seconds", "route", "/v1/cases/{id}/comments", 1},
		{"duban_commands_total", "outcome", "ok", 2},       // the open and the comment
		{"duban_commands_total", "outcome", "conflict", 1}, // the resolve of a dispatched case
		{"duban_cases", "status", "dispatched", 1},
		{"duban_cases_overdue", "", "", 1},
		{"duban_cases_escalated", "", "", 1}, // at level 1, 2 or 3 by now
		{"duban_escalation_lag_seconds", "level", "1", 1},
	} {
		if got := seriesSum(families, want.family, want.label, want.value); got < want.atLeast {
			t.Errorf("%s{%s=%q} is %v, want at least %v", want.family, want.label, want.value, got, want.atLeast)
		}
	}
	var temporal, goRuntime bool
	for name := range families {
		temporal = temporal || strings.HasPrefix(name, "temporal_")
		goRuntime = goRuntime || name == "go_goroutines"
	}
	if !temporal || !goRuntime {
		t.Errorf("the Temporal SDK's metrics (%v) or the Go runtime's (%v) are missing", temporal, goRuntime)
	}
	// The Grafana dashboard graphs only series duban serves.
	dashboard, err := os.ReadFile("../../deploy/grafana/duban.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`\b(?:duban|temporal|go)_[a-z_]+`).FindAllString(string(dashboard), -1) {
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
		if families[family] == nil && families[name] == nil {
			t.Errorf("the dashboard graphs %s, which /metrics does not serve", name)
		}
	}
	if body := string(s.call("GET", "/metrics", "", nil).Body); strings.Contains(body, c.ID) {
		t.Error("a case id is a label: the metrics would grow with every case")
	}
}

// seriesSum sums a family's counter, gauge or histogram count over the series
// whose label has value ("" label: all series).
func seriesSum(families map[string]*dto.MetricFamily, family, label, value string) float64 {
	f := families[family]
	if f == nil {
		return 0
	}
	var n float64
	for _, m := range f.Metric {
		match := label == ""
		for _, l := range m.Label {
			match = match || l.GetName() == label && l.GetValue() == value
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			n += m.Counter.GetValue()
		case m.Gauge != nil:
			n += m.Gauge.GetValue()
		case m.Histogram != nil:
			n += float64(m.Histogram.GetSampleCount())
		}
	}
	return n
}
