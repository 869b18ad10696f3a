package main

import (
	"encoding/json"
	"fmt"
	"math"
)

// figures are what a run measured on one stack; a phase that did not run
// leaves its figures nil. The JSON names are those of every results file
// written so far, so that -print reads old runs too.
type figures struct {
	OpenPerS                   *float64 `json:"open_per_s,omitempty"`
	CeilingOpenPerS            *float64 `json:"ceiling_open_per_s,omitempty"`
	OpenLatency                *dist    `json:"open_latency,omitempty"`
	CeilingOpenLatency         *dist    `json:"ceiling_open_latency,omitempty"`
	SingleOpenLatency          *dist    `json:"single_open_latency,omitempty"`
	SingleCeilingOpenLatency   *dist    `json:"single_ceiling_open_latency,omitempty"`
	SingleCommandLatency       *dist    `json:"single_command_latency,omitempty"`
	SingleCeilingUpdateLatency *dist    `json:"single_ceiling_update_latency,omitempty"`

	CommandLatency          *dist           `json:"command_latency,omitempty"`
	CommandLatencyByCommand map[string]dist `json:"command_latency_by_command,omitempty"`
	CeilingUpdateLatency    *dist           `json:"ceiling_update_latency,omitempty"`
	ShapedUpdateLatency     *dist           `json:"shaped_update_latency,omitempty"`

	LongCaseLatency *dist `json:"long_case_latency,omitempty"`
	NewCaseLatency  *dist `json:"new_case_latency,omitempty"`

	// WorkerHeapAfterRounds is the worker's live heap before the first
	// round of closed cases and after each.
	WorkerHeapAfterRounds []int64 `json:"worker_heap_after_rounds,omitempty"`

	CeilingTimerLag   *dist       `json:"ceiling_timer_lag,omitempty"`
	CeilingTimerBurst *burst      `json:"ceiling_timer_burst,omitempty"`
	Escalation        *escalation `json:"escalation,omitempty"`
	VisibleLagAtScale *dist       `json:"visible_lag_at_scale,omitempty"`

	CeilingAppendLatency *dist    `json:"ceiling_append_latency,omitempty"`
	CeilingAppendPerS    *float64 `json:"ceiling_append_per_s,omitempty"`

	LoadSeconds      *float64 `json:"load_seconds,omitempty"`
	CeilingPKRead    *dist    `json:"ceiling_pk_read,omitempty"`
	CeilingListQuery *dist    `json:"ceiling_list_query,omitempty"`
	HTTPOverhead     *dist    `json:"http_overhead,omitempty"`
	GetCase          *dist    `json:"get_case,omitempty"`
	ListCases        *dist    `json:"list_cases,omitempty"`

	ScorecardLoadSeconds  *float64 `json:"scorecard_load_seconds,omitempty"`
	ScorecardObligations  *int64   `json:"scorecard_obligations,omitempty"`
	CeilingScorecardQuery *dist    `json:"ceiling_scorecard_query,omitempty"`
	Scorecard             *dist    `json:"scorecard,omitempty"`
	CeilingFigureQuery    *dist    `json:"ceiling_figure_query,omitempty"`
	FigureCases           *dist    `json:"figure_cases,omitempty"`

	Web    *webFigures    `json:"web,omitempty"`
	Outbox *outboxFigures `json:"outbox,omitempty"`
	// Attachments: photos taken in and thumbnails served.
	Attachments *attachmentFigures `json:"attachments,omitempty"`
	Sites       *siteFigures       `json:"sites,omitempty"`
	Residents   *residentFigures   `json:"residents,omitempty"`

	// PostsRepeatedAfter503 counts the POSTs the harness repeated because
	// duban answered 503.
	PostsRepeatedAfter503 int64 `json:"posts_repeated_after_503"`
}

// tableRows sets each duban figure beside its ceiling, with the targets of
// the benchmark issue; figures a run did not measure are left out.
func tableRows(f *figures, z sizes) []row {
	var rows []row
	if f.OpenPerS != nil && f.CeilingOpenPerS != nil && f.OpenLatency != nil && f.CeilingOpenLatency != nil {
		rows = append(rows,
			compare(fmt.Sprintf("open cases, %d clients", z.Clients), "per s", round(*f.OpenPerS), round(*f.CeilingOpenPerS), 0.60, true),
			compare("open latency p50", "ms", f.OpenLatency.P50, f.CeilingOpenLatency.P50, 0, false),
			compare("open latency p99", "ms", f.OpenLatency.P99, f.CeilingOpenLatency.P99, 0, false))
	}
	if f.SingleOpenLatency != nil && f.SingleCeilingOpenLatency != nil && f.SingleCommandLatency != nil && f.SingleCeilingUpdateLatency != nil {
		rows = append(rows,
			compare("one client: open p50 (vs Update-with-Start)", "ms", f.SingleOpenLatency.P50, f.SingleCeilingOpenLatency.P50, 0, false),
			compare("one client: command p50 (vs Update)", "ms", f.SingleCommandLatency.P50, f.SingleCeilingUpdateLatency.P50, 0, false))
	}
	if cmd, bare := f.CommandLatency, f.CeilingUpdateLatency; cmd != nil && bare != nil {
		rows = append(rows,
			compare("command latency p50 (vs bare Update)", "ms", cmd.P50, bare.P50, 0, false),
			compare("command latency p99 (vs bare Update)", "ms", cmd.P99, bare.P99, 1.5, false))
		rows = append(rows, tailRows("", "bare Update", *cmd, *bare)...)
		for _, name := range []string{"acknowledge", "resolve", "verify"} {
			rows = append(rows, compare("  "+name+" p99", "ms", f.CommandLatencyByCommand[name].P99, bare.P99, 0, false))
		}
		if shaped := f.ShapedUpdateLatency; shaped != nil {
			rows = append(rows,
				compare("command latency p50 (vs Update shaped like a command)", "ms", cmd.P50, shaped.P50, 0, false),
				compare("command latency p99 (vs Update shaped like a command)", "ms", cmd.P99, shaped.P99, 0, false),
				compare("shaped Update p99 (vs bare Update)", "ms", shaped.P99, bare.P99, 0, false))
		}
	}
	if f.LongCaseLatency != nil && f.NewCaseLatency != nil {
		rows = append(rows, compare(fmt.Sprintf("command on a case with %d events p50 (vs a new case)", z.LongCase), "ms",
			f.LongCaseLatency.P50, f.NewCaseLatency.P50, 1.5, false))
	}
	if heaps := f.WorkerHeapAfterRounds; len(heaps) > 1 {
		growth := float64(heaps[len(heaps)-1]-heaps[0]) / (1 << 20)
		met := growth < 16
		rows = append(rows, alone(fmt.Sprintf("worker heap growth over %d rounds of %d closed cases", len(heaps)-1, z.MemoryCases), "MiB", round(growth), "≈ 0", &met))
	}
	if esc := f.Escalation; esc != nil {
		rows = append(rows, escalationRows(esc, f.CeilingTimerLag, f.CeilingTimerBurst)...)
	}
	if atScale := f.VisibleLagAtScale; atScale != nil {
		met := atScale.P99 <= 1000
		rows = append(rows, alone(fmt.Sprintf("escalation visible, %d loaded due at once, p99", z.VisibleAt), "ms", atScale.P99, "≤ 1000 ms", &met))
	}
	if f.GetCase != nil && f.CeilingPKRead != nil && f.HTTPOverhead != nil && f.ListCases != nil && f.CeilingListQuery != nil {
		pk, httpOverhead := f.CeilingPKRead.P99, f.HTTPOverhead.P99
		getMet := f.GetCase.P99 <= 2*pk+httpOverhead
		getRow := compare(fmt.Sprintf("GET case at %d cases p99 (vs primary-key read)", z.Rows), "ms", f.GetCase.P99, pk, 0, false)
		getRow.Target, getRow.Met = fmt.Sprintf("≤ 2× + HTTP %.2f ms", httpOverhead), &getMet
		rows = append(rows, getRow,
			compare(fmt.Sprintf("list cases at %d cases p99 (vs raw query)", z.Rows), "ms", f.ListCases.P99, f.CeilingListQuery.P99, 2, false))
		if tails := tailRows("list: ", "raw query", *f.ListCases, *f.CeilingListQuery); tails != nil {
			rows = append(rows, compare("  list: p50 (vs raw query)", "ms", f.ListCases.P50, f.CeilingListQuery.P50, 0, false))
			rows = append(rows, tails...)
		}
		rows = append(rows, alone("HTTP overhead, GET /healthz p99", "ms", httpOverhead, "", nil))
	}
	if f.Scorecard != nil && f.CeilingScorecardQuery != nil && f.ScorecardObligations != nil && f.FigureCases != nil && f.CeilingFigureQuery != nil {
		n := *f.ScorecardObligations
		card := compare(fmt.Sprintf("a month's scorecards over %d obligations, 40 units, p99 (vs raw SQL)", n), "ms",
			f.Scorecard.P99, f.CeilingScorecardQuery.P99, 2, false)
		if card.Met != nil {
			met := *card.Met && f.Scorecard.P99 < 1000
			card.Target, card.Met = "≤ 2× and < 1000 ms", &met
		}
		rows = append(rows, card)
		if tails := tailRows("scorecards: ", "raw SQL", *f.Scorecard, *f.CeilingScorecardQuery); tails != nil {
			rows = append(rows, compare("  scorecards: p50 (vs raw SQL)", "ms", f.Scorecard.P50, f.CeilingScorecardQuery.P50, 0, false))
			rows = append(rows, tails...)
		}
		rows = append(rows, compare("  the cases behind a unit's figure p99 (vs raw query)", "ms", f.FigureCases.P99, f.CeilingFigureQuery.P99, 2, false))
	}
	if f.Web != nil {
		rows = append(rows, webRows(f.Web)...)
	}
	if f.Outbox != nil {
		rows = append(rows, outboxRows(f.Outbox)...)
	}
	if f.Attachments != nil {
		rows = append(rows, attachmentRows(f.Attachments)...)
	}
	if f.Residents != nil {
		rows = append(rows, residentRows(f.Residents)...)
	}
	if f.Sites != nil {
		rows = append(rows, siteRows(f.Sites)...)
	}
	if f.CeilingAppendLatency != nil {
		rows = append(rows, alone("PostgreSQL one-row append transaction p99", "ms", f.CeilingAppendLatency.P99, "", nil))
	}
	return rows
}

// escalationRows are the rows of simultaneous deadlines, beside as many
// bare timers when they were measured.
func escalationRows(esc *escalation, timers *dist, timerBurst *burst) []row {
	visibleMet := esc.Visible.P99 <= 1000
	rows := []row{
		alone(fmt.Sprintf("escalation visible, %d due at once, p99", esc.N), "ms", esc.Visible.P99, "≤ 1000 ms", &visibleMet),
		alone(fmt.Sprintf("escalation visible, %d due at once, max", esc.N), "ms", esc.Visible.Max, "", nil),
	}
	if timers != nil {
		rows = append(rows,
			compare(fmt.Sprintf("escalation recorded, %d at once, p50 (vs timers)", esc.N), "ms", esc.Recorded.P50, timers.P50, 0, false),
			compare(fmt.Sprintf("escalation recorded, %d at once, p99 (vs timers)", esc.N), "ms", esc.Recorded.P99, timers.P99, 1.2, false),
			compare(fmt.Sprintf("escalation recorded, %d at once, max (vs timers)", esc.N), "ms", esc.Recorded.Max, timers.Max, 0, false))
	}
	if timerBurst != nil && timerBurst.PerSecond > 0 && esc.Burst.PerSecond > 0 {
		rows = append(rows, compare(fmt.Sprintf("escalations recorded per second, %d at once (vs timers)", esc.N), "per s", esc.Burst.PerSecond, timerBurst.PerSecond, 0, true))
	}
	if timerBurst != nil && len(timerBurst.CPU) > 0 && len(esc.Burst.CPU) > 0 {
		perOne := func(b burst) float64 {
			var sum float64
			for _, s := range b.CPU {
				sum += s
			}
			return math.Round(sum*1000/float64(esc.N)*100) / 100
		}
		rows = append(rows, compare(fmt.Sprintf("CPU per escalation, every process, %d at once (vs a bare timer)", esc.N), "ms", perOne(esc.Burst), perOne(*timerBurst), 0, false))
	}
	perTenThousand := func(b int64) float64 { return mib(float64(b) * 10000 / float64(esc.N)) }
	return append(rows,
		alone("worker live heap per 10,000 open cases", "MiB", perTenThousand(esc.WorkerHeapAfter-esc.WorkerHeapBefore), "", nil),
		alone("worker resident memory per 10,000 open cases", "MiB", perTenThousand(esc.WorkerRSSAfter-esc.WorkerRSSBefore), "", nil),
		alone("duban database growth per 10,000 cases", "MiB", perTenThousand(esc.DubanDiskGrowth), "", nil),
		alone("Temporal store growth per 10,000 cases", "MiB", perTenThousand(esc.TemporalGrowth), "", nil))
}

// tailRows are, for a measure taken in alternating rounds, its p95 and
// the median of its rounds' p99 beside its ceiling's: what a pooled p99
// moved by one disturbed round is read beside. None without rounds.
func tailRows(what, vs string, d, ceiling dist) []row {
	if len(d.RoundP99) < 2 || len(ceiling.RoundP99) != len(d.RoundP99) {
		return nil
	}
	return []row{
		compare("  "+what+"p95 (vs "+vs+")", "ms", d.P95, ceiling.P95, 0, false),
		compare(fmt.Sprintf("  %smedian of %d rounds' p99 (vs %s)", what, len(d.RoundP99), vs), "ms", d.medianRoundP99(), ceiling.medianRoundP99(), 0, false),
	}
}

func round(v float64) float64 { return float64(int(v*10+0.5)) / 10 }

func mib(b float64) float64 { return round(b / (1 << 20)) }

// summary is the one line of JSON a run ends with, from the first stack
// measured.
type summary struct {
	Stack                     string  `json:"stack"`
	OpenPerS                  float64 `json:"open_per_s"`
	OpenCeilingPerS           float64 `json:"open_ceiling_per_s"`
	CommandP99Ms              float64 `json:"cmd_p99_ms"`
	CommandCeilingP99Ms       float64 `json:"cmd_ceiling_p99_ms"`
	EscalationVisibleLagP99Ms float64 `json:"escalation_visible_lag_p99_ms"`
	EscalationEventLagP99Ms   float64 `json:"escalation_event_lag_p99_ms"`
	TimerCeilingLagP99Ms      float64 `json:"timer_ceiling_lag_p99_ms"`
	GetP99Ms                  float64 `json:"get_p99_ms"`
	GetCeilingP99Ms           float64 `json:"get_ceiling_p99_ms"`
	ListP99Ms                 float64 `json:"list_p99_ms"`
	ListCeilingP99Ms          float64 `json:"list_ceiling_p99_ms"`
}

// summaryLine is the run's summary, or "" for a partial run (-only) or one
// whose first stack did not finish.
func summaryLine(rep report) string {
	if len(rep.Stacks) == 0 || rep.Stacks[0].Error != "" {
		return ""
	}
	f := rep.Stacks[0].Figures
	if f.OpenPerS == nil || f.CeilingOpenPerS == nil || f.CommandLatency == nil || f.CeilingUpdateLatency == nil || f.Escalation == nil ||
		f.CeilingTimerLag == nil || f.GetCase == nil || f.CeilingPKRead == nil || f.ListCases == nil || f.CeilingListQuery == nil {
		return ""
	}
	b, _ := json.Marshal(summary{
		Stack: rep.Stacks[0].Name, OpenPerS: round(*f.OpenPerS), OpenCeilingPerS: round(*f.CeilingOpenPerS),
		CommandP99Ms: f.CommandLatency.P99, CommandCeilingP99Ms: f.CeilingUpdateLatency.P99,
		EscalationVisibleLagP99Ms: f.Escalation.Visible.P99, EscalationEventLagP99Ms: f.Escalation.Recorded.P99,
		TimerCeilingLagP99Ms: f.CeilingTimerLag.P99, GetP99Ms: f.GetCase.P99, GetCeilingP99Ms: f.CeilingPKRead.P99,
		ListP99Ms: f.ListCases.P99, ListCeilingP99Ms: f.CeilingListQuery.P99,
	})
	return string(b)
}
