// Command bench measures duban beside the ceilings of the same machine:
// the same Temporal server, worker settings and PostgreSQL doing the bare
// minimum (an Update answered at once, a timer, a one-row transaction, a raw
// query), measured in the same run, so the ratios mean something on a noisy
// machine where absolute timings do not.
//
//	go run ./bench -quick     # about two minutes, the production shape only
//	go run ./bench            # both stacks at full size
//
// Everything runs on 127.0.0.1 in a temporary directory, bounded in count
// and time. Results are printed as a table and written as JSON to -out.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/duban/duban/internal/harness"
	"github.com/duban/duban/postgres"
)

// sizes bound one run.
type sizes struct {
	Clients      int           `json:"clients"`
	OpenFor      time.Duration `json:"open_for"`
	Commands     int           `json:"commands"`
	Simultaneous int           `json:"simultaneous_deadlines"`
	Rows         int           `json:"projection_rows"`
	Reads        int           `json:"reads"`
	VisibleAt    int           `json:"visible_at_scale"` // 0: not measured
	ReadClients  int           `json:"read_clients"`
	LongCase     int           `json:"long_case_events"`
	MemoryCases  int           `json:"memory_cases_per_round"`
}

var (
	quickSizes = sizes{Clients: 16, OpenFor: 8 * time.Second, Commands: 480, Simultaneous: 1000, Rows: 100_000, Reads: 3000, ReadClients: 8, LongCase: 200, MemoryCases: 200}
	fullSizes  = sizes{Clients: 16, OpenFor: 30 * time.Second, Commands: 2400, Simultaneous: 10_000, Rows: 1_000_000, Reads: 20_000, VisibleAt: 100_000, ReadClients: 8, LongCase: 600, MemoryCases: 1000}
)

// principalsYAML are the tokens the harness uses.
const principalsYAML = `  - {token: bench-inspector, id: inspector-1, role: inspector}
  - {token: bench-unit, id: sanitation-1, role: unit, unit: sanitation}
  - {token: bench-supervisor, id: supervisor-1, role: supervisor}
`

// mainPolicy has deadlines long enough that nothing escalates while opens
// and commands are measured.
const mainPolicy = `timezone: UTC
calendar: 24x7
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    sla:
      normal: {acknowledge: 24h, resolve: 48h, verify: 24h}
principals:
` + principalsYAML

// report is one run's results.
type report struct {
	Mode    string        `json:"mode"`
	Started time.Time     `json:"started"`
	Machine string        `json:"machine"`
	Sizes   sizes         `json:"sizes"`
	Stacks  []stackReport `json:"stacks"`
}

type stackReport struct {
	Name    string         `json:"name"`
	Shape   string         `json:"shape"`
	Rows    []row          `json:"rows"`
	Figures map[string]any `json:"figures"`
	Error   string         `json:"error,omitempty"`
}

func main() {
	quick := flag.Bool("quick", false, "about three minutes here: the production shape at small sizes")
	stacksFlag := flag.String("stacks", "", "stacks to measure: prod (Temporal on PostgreSQL), dev (Temporal on SQLite); default prod for -quick, both otherwise")
	onlyFlag := flag.String("only", "", "measure only these phases, comma-separated: "+strings.Join(phases, ", "))
	profile := flag.String("profile", "", "also run commands, then lists, for "+profileFor.String()+" each, and profile the simultaneous escalations: CPU profiles of duban's api and worker and of the harness (Temporal server) in this directory")
	out := flag.String("out", "bench/results", "directory for the JSON results")
	show := flag.String("print", "", "measure nothing: print the tables of this results file")
	flag.Parse()
	if *show != "" {
		if err := printResults(*show); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	only := map[string]bool{}
	for _, p := range strings.Split(*onlyFlag, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if !slices.Contains(phases, p) {
				fmt.Fprintf(os.Stderr, "bench: unknown phase %q: use %s\n", p, strings.Join(phases, ", "))
				os.Exit(2)
			}
			only[p] = true
		}
	}
	if err := runBench(ctx, *quick, *stacksFlag, only, *profile, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runBench(ctx context.Context, quick bool, stacksFlag string, only map[string]bool, profileDir, outDir string) error {
	rep := report{Mode: "full", Started: time.Now().UTC(), Machine: machine(), Sizes: fullSizes}
	names := []string{"prod", "dev"}
	if quick {
		rep.Mode, rep.Sizes, names = "quick", quickSizes, []string{"prod"}
	}
	if stacksFlag != "" {
		names = strings.Split(stacksFlag, ",")
	}
	tmp, err := os.MkdirTemp("", "duban-bench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	_ = os.Chmod(tmp, 0o755) // PostgreSQL runs as postgres when this runs as root
	began := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%6.1fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
	}
	logf("building duban")
	binary, err := harness.BuildDuban(tmp)
	if err != nil {
		return err
	}
	for _, name := range names {
		if name != "prod" && name != "dev" {
			return fmt.Errorf("unknown stack %q: use prod or dev", name)
		}
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		logf("stack %s", name)
		sr, err := measureStack(ctx, name, dir, binary, rep.Sizes, only, profileDir, logf)
		if err != nil {
			sr.Error = err.Error()
			logf("stack %s: %v", name, err)
		}
		rep.Stacks = append(rep.Stacks, sr)
		printStack(rep, sr)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	file := filepath.Join(outDir, rep.Started.Format("20060102T150405Z")+"-"+rep.Mode+".json")
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", file)
	if line := summaryLine(rep); line != "" {
		fmt.Println(line)
	}
	for _, s := range rep.Stacks {
		if s.Error != "" {
			return fmt.Errorf("stack %s did not finish: %s", s.Name, s.Error)
		}
	}
	return nil
}

func printStack(rep report, sr stackReport) {
	printTable(os.Stdout, fmt.Sprintf("duban beside its ceilings: %s stack (%s), %s run", sr.Name, sr.Shape, rep.Mode), sr.Rows)
}

// printResults prints the tables of a results file written by an earlier run.
func printResults(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Printf("%s, %s run started %s on %s\n", file, rep.Mode, rep.Started.Format(time.RFC3339), rep.Machine)
	for _, sr := range rep.Stacks {
		printStack(rep, sr)
		if sr.Error != "" {
			fmt.Printf("(stack %s did not finish: %s)\n", sr.Name, sr.Error)
		}
	}
	return nil
}

// showLogTails prints the last lines duban's processes logged, so that a
// failed run says why before its directory is removed.
func showLogTails(dir string, logf func(string, ...any)) {
	for _, name := range []string{"api", "worker"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".log"))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		lines = lines[max(0, len(lines)-20):]
		logf("last lines of duban %s's log:\n%s", name, strings.Join(lines, "\n"))
	}
}

func machine() string {
	host, _ := os.Hostname()
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s: %d cores (%s), %s, %s/%s", host, runtime.NumCPU(), cpu, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// phases are the parts of a run, in order; -only runs some of them.
var phases = []string{"open", "commands", "long", "memory", "timers", "escalation", "append", "reads", "scale"}

// measureStack runs the selected measurements on one stack, each ceiling
// just before the duban figure it is compared with.
func measureStack(ctx context.Context, name, dir, binary string, z sizes, only map[string]bool, profileDir string, logf func(string, ...any)) (sr stackReport, err error) {
	sr = stackReport{Name: name, Shape: "Temporal on PostgreSQL, 4 history shards", Figures: map[string]any{}}
	if name == "dev" {
		sr.Shape = "Temporal on SQLite (WAL), 1 history shard, as duban dev"
	}
	want := func(phase string) bool { return len(only) == 0 || only[phase] }
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s, err := startStack(ctx, name, dir, binary, logger)
	defer func() {
		sr.Figures["posts_repeated_after_503"] = repeated503.Swap(0)
		sr.Rows = tableRows(sr.Figures, z)
		if err != nil {
			showLogTails(dir, logf) // the temporary directory goes at the end
		}
	}()
	if err != nil {
		return sr, err
	}
	defer s.close()
	if err := s.startDuban(ctx, mainPolicy); err != nil {
		return sr, err
	}
	bare, err := startBareWorker(s.tc)
	if err != nil {
		return sr, err
	}
	defer bare.Stop()
	fig := sr.Figures
	c := newCaller(s.apiBase, z.Clients)

	// Opens and commands come first: the commands need cases, and the
	// rate of opens sizes the later phases. Each is measured in rounds
	// that alternate with its ceiling's, so that whatever else the machine
	// does weighs on both alike.
	const rounds = 4
	logf("  opens: Update-with-Start of a bare workflow and duban's, %d clients, %d rounds of %s each", z.Clients, rounds, z.OpenFor/rounds)
	var bareOpen, dubanOpened tally
	bareIDs, caseIDs := make([][]string, z.Clients), make([][]string, z.Clients)
	for range rounds {
		if err := ceilingOpen(ctx, s.tc, BareWorkflow, z.Clients, forDuration(z.OpenFor/rounds), &bareOpen, bareIDs); err != nil {
			return sr, err
		}
		if err := dubanOpen(c, z.Clients, forDuration(z.OpenFor/rounds), &dubanOpened, caseIDs); err != nil {
			return sr, err
		}
	}
	bareRate, openRate := bareOpen.rate(), dubanOpened.rate()
	fig["ceiling_open_per_s"], fig["ceiling_open_latency"] = bareRate, bareOpen.lat.dist()
	fig["open_per_s"], fig["open_latency"] = openRate, dubanOpened.lat.dist()
	if want("open") {
		logf("  one client: Update-with-Start and duban's open, an Update and duban's command")
		if err := measureSingle(ctx, s, c, bareIDs, caseIDs, fig); err != nil {
			return sr, err
		}
	}
	if want("commands") {
		var bareUpdates, shapedUpdates tally
		cmds := newCommandRun(caseIDs)
		perRound := int64(z.Commands / rounds)
		// A shaped workflow ends after its commands, and clients do not
		// share theirs: open twice as many as the commands need.
		nShaped := 2 * z.Commands / len(commandSteps)
		logf("  opening %d workflows shaped like cases, untimed", nShaped)
		shapedIDs := make([][]string, z.Clients)
		if err := ceilingOpen(ctx, s.tc, ShapedWorkflow, z.Clients, forCount(int64(nShaped)), &tally{}, shapedIDs); err != nil {
			return sr, err
		}
		bare, shaped := newUpdateRun(bareIDs, 0), newUpdateRun(shapedIDs, len(commandSteps))
		if profileDir != "" {
			logf("  commands for %s, profiled into %s", profileFor, profileDir)
			profiled := s.captureProfiles(profileDir)
			if err := dubanCommands(c, cmds, forDuration(profileFor)); err != nil {
				return sr, err
			}
			if err := profiled(); err != nil {
				return sr, err
			}
			measured := newCommandRun(cmds.ids) // timed afresh, going on from where the cases are
			measured.next = cmds.next
			cmds = measured
		}
		logf("  commands: Updates on bare and on shaped workflows, and duban's commands, %d of each in %d rounds", z.Commands, rounds)
		for range rounds {
			if err := ceilingUpdate(ctx, s.tc, bare, forCount(perRound), &bareUpdates); err != nil {
				return sr, err
			}
			if err := ceilingUpdate(ctx, s.tc, shaped, forCount(perRound), &shapedUpdates); err != nil {
				return sr, err
			}
			if err := dubanCommands(c, cmds, forCount(perRound)); err != nil {
				return sr, err
			}
		}
		byCommand := map[string]dist{}
		for name, l := range cmds.byStep {
			byCommand[name] = l.dist()
		}
		fig["ceiling_update_latency"], fig["shaped_update_latency"] = bareUpdates.lat.dist(), shapedUpdates.lat.dist()
		fig["command_latency"], fig["command_latency_by_command"] = cmds.all.lat.dist(), byCommand
	}
	if want("long") {
		logf("  a case with %d events beside a new one, one client", z.LongCase)
		if err := measureLongCase(c, z.LongCase, fig); err != nil {
			return sr, err
		}
	}
	if want("memory") {
		logf("  worker memory: %d rounds of %d cases opened and closed", 3, z.MemoryCases)
		if fig["worker_heap_after_rounds"], err = measureClosedCases(s, c, z.Clients, z.MemoryCases, 3); err != nil {
			return sr, err
		}
	}
	if want("timers") {
		logf("  ceiling: %d bare timers due at one instant", z.Simultaneous)
		if fig["ceiling_timer_lag"], err = ceilingTimers(ctx, s.tc, z.Clients, z.Simultaneous, bareRate); err != nil {
			return sr, err
		}
	}
	if want("escalation") {
		logf("  duban: %d cases due at one instant", z.Simultaneous)
		esc, err := measureEscalation(ctx, s, 2*z.Clients, z.Simultaneous, openRate, profileDir, logf)
		if err != nil {
			return sr, err
		}
		fig["escalation"] = esc
		if err := s.startDuban(ctx, mainPolicy); err != nil {
			return sr, err
		}
	}
	if want("append") {
		logf("  ceiling: one-row append transactions in PostgreSQL")
		appendLat, appendRate, err := ceilingAppend(ctx, s, z.Clients, z.Commands)
		if err != nil {
			return sr, err
		}
		fig["ceiling_append_latency"], fig["ceiling_append_per_s"] = appendLat, appendRate
	}
	if !want("reads") && !want("scale") {
		return sr, nil
	}
	store, err := postgres.Open(ctx, s.dubanURL)
	if err != nil {
		return sr, err
	}
	defer store.Close()
	if want("reads") {
		logf("  loading %d cases through the event store", z.Rows)
		start, now := time.Now(), time.Now()
		sample, err := seed(ctx, store, z.Rows, func(rng *rand.Rand) postgres.CaseHistory { return seedHistory(rng, now) }, func(done int) {
			if done%100_000 == 0 {
				logf("    %d", done)
			}
		})
		if err != nil {
			return sr, err
		}
		if _, err := s.db.Exec(ctx, "ANALYZE cases; ANALYZE events"); err != nil {
			return sr, err
		}
		fig["load_seconds"] = time.Since(start).Seconds()
		if profileDir != "" {
			logf("  lists for %s, profiled into %s", profileFor, profileDir)
			profiled := s.captureProfiles(filepath.Join(profileDir, "reads"))
			if _, err := timedFor(z.ReadClients, profileFor, func() error {
				return c.call("GET", "/v1/cases?status=in_progress&unit=sanitation&limit=50", "bench-supervisor", nil, 200, nil)
			}); err != nil {
				return sr, err
			}
			if err := profiled(); err != nil {
				return sr, err
			}
		}
		logf("  reads at %d cases: raw and through the API, %d clients", z.Rows, z.ReadClients)
		reads, err := measureReads(ctx, s, sample, z)
		if err != nil {
			return sr, err
		}
		for k, v := range reads {
			fig[k] = v
		}
	}
	if want("scale") && z.VisibleAt > 0 {
		logf("  duban: %d loaded cases due at one instant", z.VisibleAt)
		if fig["visible_lag_at_scale"], err = measureVisibleAtScale(ctx, s, store, z.ReadClients, z.VisibleAt, logf); err != nil {
			return sr, err
		}
	}
	return sr, nil
}

// measureSingle times, from one client with nothing else running, opening a
// bare workflow and a case, and an Update on a running bare workflow and a
// comment on a case: latency without queueing.
func measureSingle(ctx context.Context, s *stack, c *caller, bareIDs, caseIDs [][]string, fig map[string]any) error {
	const n = 50
	var open, update tally
	if err := ceilingOpen(ctx, s.tc, BareWorkflow, 1, forCount(n), &open, make([][]string, 1)); err != nil {
		return err
	}
	if err := ceilingUpdate(ctx, s.tc, newUpdateRun(bareIDs[:1], 0), forCount(n), &update); err != nil {
		return err
	}
	fig["single_ceiling_open_latency"], fig["single_ceiling_update_latency"] = open.lat.dist(), update.lat.dist()
	var err error
	if fig["single_open_latency"], err = timed(1, n, func() error {
		return c.call("POST", "/v1/cases", "bench-inspector", openBody("littering"), 201, nil)
	}); err != nil {
		return err
	}
	id := caseIDs[0][0]
	fig["single_command_latency"], err = timed(1, n, func() error {
		return c.call("POST", "/v1/cases/"+id+"/comments", "bench-supervisor", map[string]any{"text": "seen on patrol"}, 200, nil)
	})
	return err
}

// measureReads times a case by id and a filtered, ordered list, raw in
// PostgreSQL and through the API, and the API's own overhead on /healthz.
func measureReads(ctx context.Context, s *stack, sample []string, z sizes) (map[string]dist, error) {
	c := newCaller(s.apiBase, z.ReadClients)
	pick := func() string { return sample[rand.IntN(len(sample))] }
	out := map[string]dist{}
	var err error
	steps := []struct {
		key string
		op  func() error
	}{
		{"ceiling_pk_read", func() error {
			var doc []byte
			return s.db.QueryRow(ctx, `SELECT doc FROM cases WHERE id = $1`, pick()).Scan(&doc)
		}},
		// The query postgres.Store.Cases runs for ?status=in_progress&unit=sanitation&limit=50.
		{"ceiling_list_query", func() error {
			rows, err := s.db.Query(ctx, `SELECT doc FROM cases WHERE status = ANY($1) AND unit = $2
				ORDER BY opened_at DESC, id DESC LIMIT $3`, []string{"in_progress"}, "sanitation", 51)
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
			return rows.Err()
		}},
		{"http_overhead", func() error { return c.call("GET", "/healthz", "", nil, 200, nil) }},
		{"get_case", func() error { return c.call("GET", "/v1/cases/"+pick(), "bench-supervisor", nil, 200, nil) }},
		{"list_cases", func() error {
			return c.call("GET", "/v1/cases?status=in_progress&unit=sanitation&limit=50", "bench-supervisor", nil, 200, nil)
		}},
	}
	// In rounds, each measure in turn, so that whatever else the machine
	// does weighs on all alike.
	const rounds = 4
	lat := map[string]*latencies{}
	for _, st := range steps {
		lat[st.key] = &latencies{}
	}
	for range rounds {
		for _, st := range steps {
			if err = timedInto(lat[st.key], z.ReadClients, z.Reads/rounds, st.op); err != nil {
				return nil, fmt.Errorf("%s: %w", st.key, err)
			}
		}
	}
	for k, l := range lat {
		out[k] = l.dist()
	}
	return out, nil
}

// ceilingAppend times one-row INSERT transactions from clients connections.
func ceilingAppend(ctx context.Context, s *stack, clients, n int) (dist, float64, error) {
	if _, err := s.db.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_append (
		position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, case_id uuid NOT NULL, data jsonb NOT NULL)`); err != nil {
		return dist{}, 0, err
	}
	payload := `{"note": "` + strings.Repeat("x", 500) + `"}`
	start := time.Now()
	d, err := timed(clients, n, func() error {
		tx, err := s.db.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO bench_append (case_id, data) VALUES (gen_random_uuid(), $1)`, payload); err != nil {
			tx.Rollback(ctx)
			return err
		}
		return tx.Commit(ctx)
	})
	return d, float64(n) / time.Since(start).Seconds(), err
}

// tableRows sets each duban figure beside its ceiling, with the targets of
// the benchmark issue; figures a run did not measure are left out.
func tableRows(fig map[string]any, z sizes) []row {
	has := func(keys ...string) bool {
		for _, k := range keys {
			if _, ok := fig[k]; !ok {
				return false
			}
		}
		return true
	}
	d := func(k string) dist { return fig[k].(dist) }
	f := func(k string) float64 { return fig[k].(float64) }
	var rows []row
	if has("open_per_s", "ceiling_open_per_s") {
		rows = append(rows,
			compare(fmt.Sprintf("open cases, %d clients", z.Clients), "per s", round(f("open_per_s")), round(f("ceiling_open_per_s")), 0.60, true),
			compare("open latency p50", "ms", d("open_latency").P50, d("ceiling_open_latency").P50, 0, false),
			compare("open latency p99", "ms", d("open_latency").P99, d("ceiling_open_latency").P99, 0, false))
	}
	if has("single_open_latency", "single_ceiling_open_latency", "single_command_latency", "single_ceiling_update_latency") {
		rows = append(rows,
			compare("one client: open p50 (vs Update-with-Start)", "ms", d("single_open_latency").P50, d("single_ceiling_open_latency").P50, 0, false),
			compare("one client: command p50 (vs Update)", "ms", d("single_command_latency").P50, d("single_ceiling_update_latency").P50, 0, false))
	}
	if has("command_latency", "ceiling_update_latency") {
		rows = append(rows,
			compare("command latency p50 (vs bare Update)", "ms", d("command_latency").P50, d("ceiling_update_latency").P50, 0, false),
			compare("command latency p99 (vs bare Update)", "ms", d("command_latency").P99, d("ceiling_update_latency").P99, 1.5, false))
		for _, name := range []string{"acknowledge", "resolve", "verify"} {
			bc := fig["command_latency_by_command"].(map[string]dist)[name]
			rows = append(rows, compare("  "+name+" p99", "ms", bc.P99, d("ceiling_update_latency").P99, 0, false))
		}
	}
	if has("command_latency", "shaped_update_latency") {
		rows = append(rows,
			compare("command latency p50 (vs Update shaped like a command)", "ms", d("command_latency").P50, d("shaped_update_latency").P50, 0, false),
			compare("command latency p99 (vs Update shaped like a command)", "ms", d("command_latency").P99, d("shaped_update_latency").P99, 0, false),
			compare("shaped Update p99 (vs bare Update)", "ms", d("shaped_update_latency").P99, d("ceiling_update_latency").P99, 0, false))
	}
	if has("long_case_latency", "new_case_latency") {
		rows = append(rows, compare(fmt.Sprintf("command on a case with %d events p50 (vs a new case)", z.LongCase), "ms",
			d("long_case_latency").P50, d("new_case_latency").P50, 1.5, false))
	}
	if has("worker_heap_after_rounds") {
		heaps := fig["worker_heap_after_rounds"].([]int64)
		growth := float64(heaps[len(heaps)-1]-heaps[0]) / (1 << 20)
		met := growth < 16
		rows = append(rows, alone(fmt.Sprintf("worker heap growth over %d rounds of %d closed cases", len(heaps)-1, z.MemoryCases), "MiB", round(growth), "≈ 0", &met))
	}
	if has("escalation") {
		esc := fig["escalation"].(escalation)
		visibleMet := esc.Visible.P99 <= 1000
		rows = append(rows,
			alone(fmt.Sprintf("escalation visible, %d due at once, p99", esc.N), "ms", esc.Visible.P99, "≤ 1000 ms", &visibleMet),
			alone(fmt.Sprintf("escalation visible, %d due at once, max", esc.N), "ms", esc.Visible.Max, "", nil))
		if has("ceiling_timer_lag") {
			rows = append(rows,
				compare(fmt.Sprintf("escalation recorded, %d at once, p50 (vs timers)", esc.N), "ms", esc.Recorded.P50, d("ceiling_timer_lag").P50, 0, false),
				compare(fmt.Sprintf("escalation recorded, %d at once, p99 (vs timers)", esc.N), "ms", esc.Recorded.P99, d("ceiling_timer_lag").P99, 1.5, false),
				compare(fmt.Sprintf("escalation recorded, %d at once, max (vs timers)", esc.N), "ms", esc.Recorded.Max, d("ceiling_timer_lag").Max, 0, false))
		}
		rows = append(rows,
			alone("worker live heap per 10,000 open cases", "MiB", mib(float64(esc.WorkerHeapAfter-esc.WorkerHeapBefore)*10000/float64(esc.N)), "", nil),
			alone("worker resident memory per 10,000 open cases", "MiB", mib(float64(esc.WorkerRSSAfter-esc.WorkerRSSBefore)*10000/float64(esc.N)), "", nil),
			alone("duban database growth per 10,000 cases", "MiB", mib(float64(esc.DubanDiskGrowth)*10000/float64(esc.N)), "", nil),
			alone("Temporal store growth per 10,000 cases", "MiB", mib(float64(esc.TemporalGrowth)*10000/float64(esc.N)), "", nil))
	}
	if has("visible_lag_at_scale") {
		atScale := d("visible_lag_at_scale")
		met := atScale.P99 <= 1000
		rows = append(rows, alone(fmt.Sprintf("escalation visible, %d loaded due at once, p99", z.VisibleAt), "ms", atScale.P99, "≤ 1000 ms", &met))
	}
	if has("get_case", "ceiling_pk_read", "http_overhead", "list_cases", "ceiling_list_query") {
		pk, httpOverhead := d("ceiling_pk_read").P99, d("http_overhead").P99
		get := d("get_case").P99
		getMet := get <= 2*pk+httpOverhead
		getRow := compare(fmt.Sprintf("GET case at %d cases p99 (vs primary-key read)", z.Rows), "ms", get, pk, 0, false)
		getRow.Target, getRow.Met = fmt.Sprintf("≤ 2× + HTTP %.2f ms", httpOverhead), &getMet
		rows = append(rows, getRow,
			compare(fmt.Sprintf("list cases at %d cases p99 (vs raw query)", z.Rows), "ms", d("list_cases").P99, d("ceiling_list_query").P99, 2, false),
			alone("HTTP overhead, GET /healthz p99", "ms", httpOverhead, "", nil))
	}
	if has("ceiling_append_latency") {
		rows = append(rows, alone("PostgreSQL one-row append transaction p99", "ms", d("ceiling_append_latency").P99, "", nil))
	}
	return rows
}

func round(v float64) float64 { return float64(int(v*10+0.5)) / 10 }

func mib(b float64) float64 { return round(b / (1 << 20)) }

// summaryLine is the one line of JSON a quick run ends with, from the
// first stack measured.
func summaryLine(rep report) string {
	if len(rep.Stacks) == 0 || rep.Stacks[0].Error != "" {
		return ""
	}
	fig := rep.Stacks[0].Figures
	for _, k := range []string{"open_per_s", "command_latency", "escalation", "ceiling_timer_lag", "get_case", "list_cases"} {
		if _, ok := fig[k]; !ok {
			return "" // a partial run (-only) has no summary
		}
	}
	d := func(k string) dist { return fig[k].(dist) }
	esc := fig["escalation"].(escalation)
	line := map[string]any{
		"stack":                         rep.Stacks[0].Name,
		"open_per_s":                    round(fig["open_per_s"].(float64)),
		"open_ceiling_per_s":            round(fig["ceiling_open_per_s"].(float64)),
		"cmd_p99_ms":                    d("command_latency").P99,
		"cmd_ceiling_p99_ms":            d("ceiling_update_latency").P99,
		"escalation_visible_lag_p99_ms": esc.Visible.P99,
		"escalation_event_lag_p99_ms":   esc.Recorded.P99,
		"timer_ceiling_lag_p99_ms":      d("ceiling_timer_lag").P99,
		"get_p99_ms":                    d("get_case").P99,
		"get_ceiling_p99_ms":            d("ceiling_pk_read").P99,
		"list_p99_ms":                   d("list_cases").P99,
		"list_ceiling_p99_ms":           d("ceiling_list_query").P99,
	}
	b, _ := json.Marshal(line)
	return string(b)
}
