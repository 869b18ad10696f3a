// Command bench measures duban beside the ceilings of the same machine:
// the same Temporal server, worker settings and PostgreSQL doing the bare
// minimum (an Update answered at once, a timer, a one-row transaction, a raw
// query), measured in the same run, so the ratios mean something on a noisy
// machine where absolute timings do not.
//
//	go run ./bench -quick     # about four minutes, the production shape only
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
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/duban/duban/internal/harness"
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
	// ScorecardCases are loaded for the scorecards, read ScorecardReads
	// times each way.
	ScorecardCases int `json:"scorecard_cases,omitempty"`
	ScorecardReads int `json:"scorecard_reads,omitempty"`
}

var (
	quickSizes = sizes{Clients: 16, OpenFor: 8 * time.Second, Commands: 480, Simultaneous: 1000, Rows: 100_000, Reads: 3000, ReadClients: 8, LongCase: 200, MemoryCases: 200, ScorecardCases: 100_000, ScorecardReads: 160}
	fullSizes  = sizes{Clients: 16, OpenFor: 30 * time.Second, Commands: 2400, Simultaneous: 10_000, Rows: 1_000_000, Reads: 20_000, VisibleAt: 100_000, ReadClients: 8, LongCase: 600, MemoryCases: 1000, ScorecardCases: 1_000_000, ScorecardReads: 200}
)

// principalsYAML are the tokens the harness uses.
const principalsYAML = `  - {token: bench-inspector, id: inspector-1, role: inspector}
  - {token: bench-unit, id: sanitation-1, role: unit, unit: sanitation}
  - {token: bench-supervisor, id: supervisor-1, role: supervisor, user: bench-supervisor, password: bench-supervisor-pw}
`

// mainPolicy has deadlines long enough that nothing escalates while opens
// and commands are measured, and the 40 units of the scorecards; cases of
// "stream" (the web phase's) fall due 6 s after they are opened.
var mainPolicy = `timezone: UTC
calendar: 24x7
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
` + scorecardUnitsYAML() + `categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    public: true
    sla:
      normal: {acknowledge: 24h, resolve: 48h, verify: 24h}
  - code: stream
    name: {zh: 看板, en: Board}
    unit: sanitation
    sla:
      normal: {acknowledge: 6s, resolve: 48h, verify: 24h}
` + siteTypesYAML() + residentsPolicy + `principals:
` + principalsYAML

func scorecardUnitsYAML() string {
	var b strings.Builder
	for _, u := range scorecardUnits {
		fmt.Fprintf(&b, "  - {id: %s, name: {zh: %s, en: %s}}\n", u, u, u)
	}
	return b.String()
}

// report is one run's results.
type report struct {
	Mode    string        `json:"mode"`
	Started time.Time     `json:"started"`
	Machine string        `json:"machine"`
	Sizes   sizes         `json:"sizes"`
	Stacks  []stackReport `json:"stacks"`
}

type stackReport struct {
	Name    string  `json:"name"`
	Shape   string  `json:"shape"`
	Rows    []row   `json:"rows"`
	Figures figures `json:"figures"`
	Error   string  `json:"error,omitempty"`
}

func main() {
	quick := flag.Bool("quick", false, "about four minutes here: the production shape at small sizes")
	stacksFlag := flag.String("stacks", "", "stacks to measure: prod (Temporal on PostgreSQL), dev (Temporal on SQLite); default prod for -quick, both otherwise")
	onlyFlag := flag.String("only", "", "measure only these phases, comma-separated: "+strings.Join(phaseNames(), ", "))
	profile := flag.String("profile", "", "also run commands, then lists, for "+profileFor.String()+" each, and profile the simultaneous escalations: CPU profiles of duban's api and worker and of the harness (Temporal server) in this directory, with the plans of the scorecards' statements")
	flag.BoolVar(&pinCores, "pin", false, "pin the Temporal server (this process) to CPU 0, duban's processes and PostgreSQL to CPU 1")
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
			if !slices.Contains(phaseNames(), p) {
				fmt.Fprintf(os.Stderr, "bench: unknown phase %q: use %s\n", p, strings.Join(phaseNames(), ", "))
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
