package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// latencies collects durations from concurrent callers.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// dist is a summary of a latency or lag distribution, in milliseconds.
type dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms,omitempty"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
	// RoundP99 is, for a measure taken in alternating rounds, each
	// round's p99: one disturbed round moves the pooled p99, not their
	// median.
	RoundP99 []float64 `json:"round_p99_ms,omitempty"`
}

// medianRoundP99 is the median of the rounds' p99s (0 without rounds).
func (d dist) medianRoundP99() float64 {
	if len(d.RoundP99) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(d.RoundP99))
	if n := len(s); n%2 == 0 {
		return math.Round((s[n/2-1]+s[n/2])*50) / 100
	}
	return s[len(s)/2]
}

// rounds marks where each round of alternating measures ends in the
// latencies it adds to.
type rounds struct{ ends []int }

func (r *rounds) end(l *latencies) {
	l.mu.Lock()
	r.ends = append(r.ends, len(l.d))
	l.mu.Unlock()
}

// dist summarizes l whole, with the p99 of each round whose end was marked.
func (r *rounds) dist(l *latencies) dist {
	d := l.dist()
	l.mu.Lock()
	defer l.mu.Unlock()
	start := 0
	for _, end := range r.ends {
		d.RoundP99 = append(d.RoundP99, summarize(l.d[start:end]).P99)
		start = end
	}
	return d
}

func (l *latencies) dist() dist {
	l.mu.Lock()
	defer l.mu.Unlock()
	return summarize(l.d)
}

func summarize(d []time.Duration) dist {
	if len(d) == 0 {
		return dist{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	return dist{N: len(s), P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

// row is one line of the comparison table: a duban figure beside its
// ceiling measured in the same run.
type row struct {
	What    string   `json:"what"`
	Unit    string   `json:"unit"`
	Duban   float64  `json:"duban"`
	Ceiling *float64 `json:"ceiling,omitempty"`
	// Ratio is duban/ceiling; Target says what the ratio should be.
	Ratio  *float64 `json:"ratio,omitempty"`
	Target string   `json:"target,omitempty"`
	Met    *bool    `json:"met,omitempty"`
}

// compare makes a row; higherBetter says whether duban should reach a
// fraction of the ceiling (throughput) or stay under a multiple (latency).
func compare(what, unit string, duban, ceiling float64, limit float64, higherBetter bool) row {
	r := row{What: what, Unit: unit, Duban: duban, Ceiling: &ceiling}
	if ceiling > 0 {
		ratio := math.Round(duban/ceiling*100) / 100
		r.Ratio = &ratio
	}
	if limit > 0 && r.Ratio != nil {
		met := *r.Ratio <= limit
		r.Target = fmt.Sprintf("≤ %.2g×", limit)
		if higherBetter {
			met = *r.Ratio >= limit
			r.Target = fmt.Sprintf("≥ %.0f%%", limit*100)
		}
		r.Met = &met
	}
	return r
}

func alone(what, unit string, v float64, target string, met *bool) row {
	return row{What: what, Unit: unit, Duban: v, Target: target, Met: met}
}

func printTable(w io.Writer, title string, rows []row) {
	fmt.Fprintf(w, "\n%s\n%s\n", title, strings.Repeat("─", len([]rune(title))))
	fmt.Fprintf(w, "%-52s %12s %12s %7s  %s\n", "measure", "duban", "ceiling", "ratio", "target")
	for _, r := range rows {
		ceiling, ratio, verdict := "", "", ""
		if r.Ceiling != nil {
			ceiling = num(*r.Ceiling)
		}
		if r.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *r.Ratio)
		}
		if r.Met != nil {
			verdict = map[bool]string{true: "met", false: "NOT MET"}[*r.Met]
		}
		fmt.Fprintf(w, "%-52s %12s %12s %7s  %s %s\n", r.What+" ("+r.Unit+")", num(r.Duban), ceiling, ratio, r.Target, verdict)
	}
}

func num(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
