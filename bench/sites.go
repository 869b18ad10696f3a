package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/postgres"
)

// The sites phase: a city's sites and a month of their inspections,
// loaded; the month's site report timed against its raw statement; the
// map drawn over the open cases; and inspections through the API, three
// failures each, against the rate of plain opens of this run.

// benchItems are the market checklist's items: ten, each opening a
// littering case.
const benchItems = 10

// siteTypesYAML is the bench policy's site type.
func siteTypesYAML() string {
	var b strings.Builder
	b.WriteString("site_types:\n  - code: market\n    name: {zh: 农贸市场, en: Market}\n    items:\n")
	for i := range benchItems {
		fmt.Fprintf(&b, "      - {code: item-%02d, name: {zh: 项目%d, en: Item %d}, category: littering, points: %d}\n", i+1, i+1, i+1, 3+i%3)
	}
	return b.String()
}

// siteFigures are the sites phase's.
type siteFigures struct {
	Sites       int     `json:"sites"`
	Inspections int     `json:"inspections"`
	LoadSeconds float64 `json:"load_seconds"`
	// Report is GET /v1/reports/sites for the loaded month; Ceiling its
	// statement, raw.
	Report, Ceiling dist
	// Map is GET /map, drawing MapCases open cases and the sites.
	Map      dist `json:"map"`
	MapCases int  `json:"map_cases"`
	// Inspected inspections went through the API in InspectSeconds,
	// opening InspectCases cases; OpenRate is this run's plain opens a
	// second, with as many clients.
	Inspected      int     `json:"inspected"`
	InspectCases   int     `json:"inspect_cases"`
	InspectSeconds float64 `json:"inspect_seconds"`
	OpenRate       float64 `json:"open_rate"`
}

// siteSizes are the phase's: a county's sites (quick: a third), a month
// of their inspections, and the inspections timed through the API.
func siteSizes(z sizes) (sites, inspections, inspected int) {
	if z.Rows >= 1_000_000 {
		return 1200, 50_000, 1000
	}
	return 400, 16_000, 300
}

func measureSites(ctx context.Context, r *benchRun) error {
	s, z := r.s, r.z
	store, err := r.dubanStore(ctx)
	if err != nil {
		return err
	}
	policy, err := duban.ParsePolicy("bench", []byte(mainPolicy))
	if err != nil {
		return err
	}
	nSites, nInspections, nInspected := siteSizes(z)
	f := &siteFigures{Sites: nSites}
	r.fig.Sites = f
	start := time.Now()
	admin := duban.Principal{ID: "bench-admin", Role: duban.RoleAdmin}
	rng := rand.New(rand.NewPCG(28, 2026))
	ids := make([]string, nSites)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-site-%04d", i+1)
		cmd := policy.ResolveSite(duban.SiteCommand{By: admin, Kind: duban.RegisterSite, SiteID: ids[i], Fields: duban.SiteFields{
			Name: fmt.Sprintf("点位 %d", i+1), Type: "market", Location: duban.Location{Lat: 39.8 + rng.Float64()/10, Lon: 111.1 + rng.Float64()/5},
			Unit: scorecardUnits[i%len(scorecardUnits)]}})
		events, err := duban.DecideSite(duban.Site{}, cmd, time.Now())
		if err != nil {
			return err
		}
		if err := store.AppendSite(ctx, duban.Site{}, events); err != nil {
			return err
		}
	}
	// A month of rounds of every site, a month ago, as planned and
	// inspected: written as the store writes them, in bulk.
	month := time.Now().UTC().AddDate(0, -1, 0)
	month = time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
	rounds := (nInspections + nSites - 1) / nSites
	step := 28 * 24 * time.Hour / time.Duration(rounds)
	for k := range rounds {
		planned := month.Add(time.Duration(k) * step)
		round := duban.Round{ID: fmt.Sprintf("bench-round-%03d", k+1), Name: "bench", Kind: duban.RoundOpen, DueBy: planned.Add(step),
			Status: duban.RoundStatusOpen, PlannedBy: "supervisor-1", PlannedAt: planned}
		for _, id := range ids {
			round.Sites = append(round.Sites, duban.RoundSite{Site: id, Type: "market", Inspector: "inspector-1"})
		}
		if _, _, err := store.RecordRound(ctx, round); err != nil {
			return err
		}
		rows := make([][]any, 0, nSites)
		for i, id := range ids {
			if len(rows)+k*nSites >= nInspections {
				break
			}
			in := duban.SiteInspection{Round: round.ID, Site: id, Type: "market", Unit: scorecardUnits[i%len(scorecardUnits)], Inspector: "inspector-1",
				At: planned.Add(time.Duration(rng.Int64N(int64(step)))), Location: duban.Location{Lat: 39.85, Lon: 111.2}, Score: 100, Cases: []string{}}
			in.RecordedAt = in.At
			for j := range benchItems {
				a := duban.ItemAnswer{Item: fmt.Sprintf("item-%02d", j+1), Result: duban.ResultPass}
				if rng.IntN(10) < 3 {
					a.Result = duban.ResultFail
					in.Score -= 3 + j%3
				}
				in.Items = append(in.Items, a)
			}
			in.Passed = in.Score >= policy.Inspection.PassScore
			doc, err := json.Marshal(in)
			if err != nil {
				return err
			}
			failed := in.Failed()
			if failed == nil {
				failed = []string{}
			}
			rows = append(rows, []any{in.Round, in.Site, in.Type, in.Unit, nil, in.Inspector, in.At, in.RecordedAt, in.Score, in.Passed, failed, doc})
		}
		if _, err := s.db.CopyFrom(ctx, pgx.Identifier{"inspections"}, []string{"round", "site", "type", "unit", "area", "inspector", "at",
			"recorded_at", "score", "passed", "failed", "doc"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		f.Inspections += len(rows)
	}
	if _, err := s.db.Exec(ctx, "ANALYZE sites; ANALYZE inspections"); err != nil {
		return err
	}
	f.LoadSeconds = time.Since(start).Seconds()
	r.logf("  %d sites and %d inspections of them in %s, loaded in %.1f s", nSites, f.Inspections, month.Format("2006-01"), f.LoadSeconds)

	// The month's site report, raw (its two statements: the counts by
	// type, the scores by site) and through the API.
	q := duban.SiteReportQuery{Period: duban.Period{From: month, To: month.AddDate(0, 1, 0)}}
	countsSQL, countsArgs := postgres.SiteCountsSQL(q)
	scoresSQL, scoresArgs := postgres.SiteScoresSQL(q)
	counts, scores := rawQuery(ctx, s, countsSQL, countsArgs), rawQuery(ctx, s, scoresSQL, scoresArgs)
	dates := url.Values{"from": {q.From.Format(time.DateOnly)}, "to": {q.To.Format(time.DateOnly)}}
	c := newCaller(s.apiBase, 1)
	var report struct {
		Items []duban.SiteTypeRow `json:"items"`
	}
	if err := c.call("GET", "/v1/reports/sites?"+dates.Encode(), "bench-supervisor", nil, 200, &report); err != nil {
		return err
	}
	if len(report.Items) != 1 || report.Items[0].Inspections != f.Inspections {
		return fmt.Errorf("the site report counts %+v, want %d inspections", report.Items, f.Inspections)
	}
	var raw, api latencies
	const reads = 40
	for range reads / 4 {
		if err := timedInto(&raw, 1, 4, func() error {
			if err := counts(); err != nil {
				return err
			}
			return scores()
		}); err != nil {
			return err
		}
		if err := timedInto(&api, 1, 4, func() error {
			return c.call("GET", "/v1/reports/sites?"+dates.Encode(), "bench-supervisor", nil, 200, nil)
		}); err != nil {
			return err
		}
	}
	f.Report, f.Ceiling = api.dist(), raw.dist()

	// The map, over every case open now: with open cases loaded to make
	// them mapOpen, placed over the sites' city.
	var open int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM cases WHERE status NOT IN ('closed', 'cancelled')`).Scan(&open); err != nil {
		return err
	}
	if open < mapOpen {
		if _, err := seed(ctx, store, mapOpen-open, seedOpen, func(int) {}); err != nil {
			return err
		}
	}
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM cases WHERE status NOT IN ('closed', 'cancelled')`).Scan(&f.MapCases); err != nil {
		return err
	}
	browser, err := signIn(s.apiBase, "bench-supervisor", "bench-supervisor-pw")
	if err != nil {
		return err
	}
	var drawn latencies
	for i := range 10 {
		t := time.Now()
		b, err := get(browser, s.apiBase+"/map")
		if err != nil {
			return err
		}
		drawn.add(time.Since(t))
		if i == 0 && !strings.Contains(string(b), `<svg class="map"`) {
			return fmt.Errorf("/map draws no map")
		}
	}
	f.Map = drawn.dist()
	if r.profileDir != "" {
		r.logf("  /map for %s, profiled into %s", profileFor, r.profileDir)
		profiled := r.s.captureProfiles(filepath.Join(r.profileDir, "map"))
		for deadline := time.Now().Add(profileFor); time.Now().Before(deadline); {
			if _, err := get(browser, s.apiBase+"/map"); err != nil {
				return errors.Join(err, profiled())
			}
		}
		if err := profiled(); err != nil {
			return err
		}
	}

	// Inspections through the API, three failures each: a round of
	// nInspected sites for inspector-1, inspected by z.Clients at once.
	var round duban.Round
	if err := c.call("POST", "/v1/rounds", "bench-supervisor", map[string]any{"name": "bench live", "sample": nInspected,
		"due_by": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339), "inspectors": []string{"inspector-1"}}, 201, &round); err != nil {
		return err
	}
	failing := map[int]bool{1: true, 4: true, 7: true}
	body := func() map[string]any {
		var items []map[string]any
		for j := range benchItems {
			result := "pass"
			if failing[j] {
				result = "fail"
			}
			items = append(items, map[string]any{"item": fmt.Sprintf("item-%02d", j+1), "result": result})
		}
		return map[string]any{"at": time.Now().UTC().Format(time.RFC3339), "location": map[string]any{"lat": 39.85, "lon": 111.2}, "items": items}
	}
	callers := newCaller(s.apiBase, z.Clients)
	start = time.Now()
	var next atomic.Int64
	n := int64(len(round.Sites))
	if _, err := run(z.Clients, func(int64) bool { return next.Load() >= n }, func(int) error {
		i := next.Add(1) - 1
		if i >= n {
			return nil
		}
		return callers.call("POST", "/v1/rounds/"+round.ID+"/sites/"+round.Sites[i].Site+"/inspection", "bench-inspector", body(), 201, nil)
	}); err != nil {
		return err
	}
	f.InspectSeconds = time.Since(start).Seconds()
	f.Inspected, f.InspectCases, f.OpenRate = len(round.Sites), len(round.Sites)*len(failing), r.openRate
	r.logf("  site report p99 %.1f ms (raw %.1f ms); /map over %d open cases p99 %.0f ms; %d inspections, %d cases, in %.1f s: %.0f cases/s (plain opens %.0f/s)",
		f.Report.P99, f.Ceiling.P99, f.MapCases, f.Map.P99, f.Inspected, f.InspectCases, f.InspectSeconds,
		float64(f.InspectCases)/f.InspectSeconds, f.OpenRate)
	return nil
}

// mapOpen is how many open cases the map is drawn over.
const mapOpen = 10_000

// seedOpen makes an open case: reported in the bench's city a day ago,
// dispatched to one of the units, not yet acknowledged.
func seedOpen(rng *rand.Rand) postgres.CaseHistory {
	at := time.Now().UTC().Add(-time.Duration(1+rng.IntN(24*60)) * time.Minute)
	id := uuid.Must(uuid.NewV7()).String()
	events, err := duban.Decide(duban.Case{}, duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}}, CaseID: id, Category: "littering",
		Severity: duban.SeverityNormal, Description: "bench: open", Location: duban.Location{Lat: 39.8 + rng.Float64()/10, Lon: 111.1 + rng.Float64()/5},
		Unit: scorecardUnits[rng.IntN(len(scorecardUnits))], Terms: scorecardTerms, RequestHash: "bench",
	}, at)
	if err != nil {
		panic(err)
	}
	return postgres.CaseHistory{Events: events}
}

// siteRows are the sites phase's rows of the table.
func siteRows(f *siteFigures) []row {
	report := compare(fmt.Sprintf("site report, a month of %d inspections of %d sites, p99 (vs its raw SQL)", f.Inspections, f.Sites), "ms",
		f.Report.P99, f.Ceiling.P99, 2, false)
	if report.Met != nil {
		met := *report.Met && f.Report.P99 < 1000
		report.Target, report.Met = "≤ 2× and < 1000 ms", &met
	}
	mapMet := f.Map.P99 < 500
	rate := float64(f.InspectCases) / f.InspectSeconds
	inspect := compare(fmt.Sprintf("cases opened by %d inspections of 3 failures each, a second (vs plain opens)", f.Inspected), "/s",
		rate, f.OpenRate, 0, true)
	inspectMet := rate >= 0.6*f.OpenRate
	inspect.Target, inspect.Met = "≥ 0.6×", &inspectMet
	return []row{report, alone(fmt.Sprintf("/map over %d open cases and %d sites, p99", f.MapCases, f.Sites), "ms", f.Map.P99, "< 500 ms", &mapMet), inspect}
}
