package metrics_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/duban/duban"
	"github.com/duban/duban/metrics"
)

// noCases is a store with no case at all.
type noCases struct{}

func (noCases) CaseCounts(context.Context, time.Time) (duban.CaseCounts, error) {
	return duban.CaseCounts{ByStatus: map[duban.Status]int{}, Escalated: map[int]int{}}, nil
}

func (noCases) OutboxCounts(context.Context) (map[string][2]int, error) { return nil, nil }

// scrape returns what GET /metrics serves, with the Temporal SDK's metrics
// reported to m as a worker reports them.
func scrape(t *testing.T, m *metrics.Metrics) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	return rec.Body.Bytes()
}

func newMetrics(t *testing.T) *metrics.Metrics {
	t.Helper()
	m := metrics.New()
	sdk, closer := m.Temporal()
	sdk.Counter("temporal_request").Inc(1)
	sdk.WithTags(map[string]string{"operation": "PollWorkflowTaskQueue"}).Timer("temporal_request_latency").Record(3 * time.Millisecond)
	sdk.Gauge("temporal_worker_task_slots_available").Update(16)
	closer.Close() // reports what the SDK recorded
	m.WatchCases(noCases{})
	m.WatchOutbox(noCases{}, []string{"city-bus"})
	m.Command("acknowledge", nil)
	return m
}

// What Prometheus's own linter (the one `promtool check metrics` runs)
// says of every series a worker and an API serve, the SDK's included.
func TestMetricsPassPromtool(t *testing.T) {
	out := scrape(t, newMetrics(t))
	problems, err := promlint.New(bytes.NewReader(out)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	if !strings.Contains(string(out), "temporal_request_latency") {
		t.Error("the SDK's metrics are not served")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed (CI installs Debian's prometheus)")
		}
		t.Skip("no promtool (apt-get install prometheus): checked with promlint only")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, b)
	}
}

// A gauge is served at 0, not left out: a panel of escalated cases shows
// 0 when none is, not "no data".
func TestGaugesAtZero(t *testing.T) {
	families := parse(t, scrape(t, newMetrics(t)))
	for _, want := range []struct{ name, label, value string }{
		{"duban_cases_escalated", "level", "1"}, {"duban_cases_escalated", "level", "2"}, {"duban_cases_escalated", "level", "3"},
		{"duban_cases", "status", "dispatched"}, {"duban_cases", "status", "closed"},
		{"duban_cases_overdue", "", ""}, {"duban_outbox_pending", "subscription", "city-bus"},
	} {
		if v, ok := gauge(families, want.name, want.label, want.value); !ok || v != 0 {
			t.Errorf("%s{%s=%q}: %v (served: %v), want 0", want.name, want.label, want.value, v, ok)
		}
	}
}

// A step already due when its stage began is counted apart, from the
// stage's beginning: the engine's lag stays what it was.
func TestCatchUpStepsCountedApart(t *testing.T) {
	m := metrics.New()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	acknowledged := duban.Case{UpdatedAt: t0}
	m.Escalations(acknowledged, []duban.Event{
		{OccurredAt: t0.Add(200 * time.Millisecond), Data: duban.CaseEscalated{Level: 1, DueAt: t0.Add(-2 * time.Minute)}},
	})
	m.Escalations(duban.Case{UpdatedAt: t0.Add(200 * time.Millisecond)}, []duban.Event{
		{OccurredAt: t0.Add(4*time.Hour + 50*time.Millisecond), Data: duban.CaseEscalated{Level: 2, DueAt: t0.Add(4 * time.Hour)}},
	})
	families := parse(t, scrape(t, m))
	lag := families["duban_escalation_lag_seconds"]
	if lag == nil || len(lag.Metric) != 2 {
		t.Fatalf("duban_escalation_lag_seconds: %v", lag)
	}
	for _, s := range lag.Metric {
		labels := map[string]string{}
		for _, l := range s.Label {
			labels[l.GetName()] = l.GetValue()
		}
		h := s.GetHistogram()
		switch {
		case labels["level"] == "1" && labels["catch_up"] == "true":
			if h.GetSampleSum() != 0.2 {
				t.Errorf("the catch-up step observed %v s, want 0.2 (from the stage's beginning)", h.GetSampleSum())
			}
		case labels["level"] == "2" && labels["catch_up"] == "false":
			if h.GetSampleSum() != 0.05 {
				t.Errorf("the step by its timer observed %v s, want 0.05", h.GetSampleSum())
			}
		default:
			t.Errorf("a series %v", labels)
		}
	}
}

func parse(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	var p expfmt.TextParser
	families, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return families
}

func gauge(families map[string]*dto.MetricFamily, name, label, value string) (float64, bool) {
	for _, s := range families[name].GetMetric() {
		for _, l := range s.Label {
			if l.GetName() == label && l.GetValue() == value {
				return s.GetGauge().GetValue(), true
			}
		}
		if label == "" {
			return s.GetGauge().GetValue(), true
		}
	}
	return 0, false
}
