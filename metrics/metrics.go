// Package metrics is duban's Prometheus metrics: HTTP requests by route and
// status, commands by name and outcome, cases by status with the overdue and
// escalated ones and the outbox's depth and failures (read from the store
// when scraped), how late escalations are recorded, the Go runtime and the
// process. Each process serves its own
// at GET /metrics; the API's router and the worker's store are wrapped here,
// so no other package imports Prometheus.
package metrics

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/duban/duban"
)

// Metrics holds one process's metrics.
type Metrics struct {
	Registry *prometheus.Registry

	requests   *prometheus.CounterVec
	durations  *prometheus.HistogramVec
	commands   *prometheus.CounterVec
	escalation *prometheus.HistogramVec
}

// New returns the metrics of a process, the Go runtime's and the process's
// among them.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "duban_http_requests_total", Help: "HTTP requests answered, by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "duban_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route pattern and method (streams excluded).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "method"})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "duban_commands_total", Help: "Commands given to cases, by command and outcome (ok, or the refusal's error code).",
	}, []string{"command", "outcome"})
	m.escalation = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "duban_escalation_lag_seconds",
		Help: "From the time a warning or an escalation came due to its event's commit, by level (0: the warning); " +
			"catch_up=\"true\": a step already due when its stage began, counted from the stage's beginning.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300},
	}, []string{"level", "catch_up"})
	m.Registry.MustRegister(m.requests, m.durations, m.commands, m.escalation,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Requests counts and times the requests of a chi router by their route
// pattern (never the path: a case id is not a label). A stream is counted
// when it ends, not timed.
func (m *Metrics) Requests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
		if route != "/v1/stream" {
			m.durations.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
		}
	})
}

// Command counts a command's outcome: what app.Service reports of each.
func (m *Metrics) Command(name string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = duban.ErrorCode(err)
	}
	m.commands.WithLabelValues(name, outcome).Inc()
}

// Escalations observes how late each warning and escalation an append
// records came after it was due, the catch-up steps apart (see
// duban.RecordedStep): they say how late a unit was, not the engine.
func (m *Metrics) Escalations(before duban.Case, events []duban.Event) {
	for _, s := range duban.RecordedSteps(before, events) {
		m.escalation.WithLabelValues(strconv.Itoa(s.Level), strconv.FormatBool(s.CatchUp)).Observe(s.Late.Seconds())
	}
}

// CaseCounter counts the cases by status, and the open ones overdue and
// escalated, at an instant.
type CaseCounter interface {
	CaseCounts(ctx context.Context, now time.Time) (duban.CaseCounts, error)
}

// WatchCases adds the cases' counts, read from the store when scraped
// (within 5 s; a scrape the store does not answer reports the failure).
func (m *Metrics) WatchCases(store CaseCounter) {
	m.Registry.MustRegister(&caseCollector{store: store})
}

type caseCollector struct{ store CaseCounter }

var (
	casesDesc     = prometheus.NewDesc("duban_cases", "Cases by status.", []string{"status"}, nil)
	overdueDesc   = prometheus.NewDesc("duban_cases_overdue", "Open cases whose running stage is past its deadline.", nil, nil)
	escalatedDesc = prometheus.NewDesc("duban_cases_escalated", "Open cases escalated to level 1 or more, by level.", []string{"level"}, nil)
)

func (c *caseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- casesDesc
	ch <- overdueDesc
	ch <- escalatedDesc
}

func (c *caseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.store.CaseCounts(ctx, time.Now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(casesDesc, errors.New("count the cases: "+err.Error()))
		return
	}
	// Every status and level has its series, 0 included: a panel or an
	// alert on a series that is missing when nothing is escalated shows
	// "no data", not 0.
	for _, status := range duban.Statuses {
		ch <- prometheus.MustNewConstMetric(casesDesc, prometheus.GaugeValue, float64(counts.ByStatus[status]), string(status))
	}
	ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, float64(counts.Overdue))
	levels := map[int]int{1: 0, 2: 0, 3: 0}
	maps.Copy(levels, counts.Escalated)
	for level, n := range levels {
		ch <- prometheus.MustNewConstMetric(escalatedDesc, prometheus.GaugeValue, float64(n), strconv.Itoa(level))
	}
}

// OutboxCounter counts each subscription's deliveries pending and failed.
type OutboxCounter interface {
	OutboxCounts(ctx context.Context) (map[string][2]int, error)
}

// WatchOutbox adds the outbox's depth and its failed deliveries for each
// of the subscriptions named, read from the store when scraped.
func (m *Metrics) WatchOutbox(store OutboxCounter, subscriptions []string) {
	m.Registry.MustRegister(&outboxCollector{store: store, names: subscriptions})
}

type outboxCollector struct {
	store OutboxCounter
	names []string
}

var (
	pendingDesc = prometheus.NewDesc("duban_outbox_pending", "Deliveries waiting to be taken, by subscription (the outbox's depth).", []string{"subscription"}, nil)
	failedDesc  = prometheus.NewDesc("duban_outbox_failed", "Deliveries kept as failed after their last retry, by subscription.", []string{"subscription"}, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- failedDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.store.OutboxCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(pendingDesc, errors.New("count the deliveries: "+err.Error()))
		return
	}
	for _, sub := range c.names {
		n := counts[sub]
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(n[0]), sub)
		ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.GaugeValue, float64(n[1]), sub)
	}
}
