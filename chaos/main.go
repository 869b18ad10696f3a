// Command chaos proves duban keeps its record through crashes: under a
// steady load of opens and commands from clients that repeat a request
// with its Idempotency-Key whenever the answer is in doubt, it kills with
// SIGKILL, in turn and at random moments, duban's API, its worker,
// PostgreSQL and the Temporal server, each a process of its own, and
// restarts the part it killed. Then it checks the store: every request
// answered 2xx is recorded exactly once, no open made a second case, no
// step of a deadline's ladder that came due is missing or doubled, every
// case's hash chain and versions are whole (`duban audit verify`) and the
// projection is the fold of the events (`duban projections rebuild
// --check`).
//
//	go run ./chaos              # 52 kills, 13 of each part: about 7 minutes
//	go run ./chaos -kills 8     # a quick look
//
// With -shape cluster (make cluster) duban runs as it does on several
// machines: two API replicas behind HAProxy, two workers, the Temporal
// server's frontend, history, matching and worker services as processes
// of their own, PostgreSQL as a primary with a synchronous standby. The
// harness kills one API replica, one worker, the frontend, the history
// service or the matching service, or the PostgreSQL primary (and
// promotes the standby, making the old primary its standby again), 5 of
// each; with -release it then rolls out a build of the next workflow
// revision replica by replica (release.go) and checks that old cases kept
// their revision, new ones took the new, and no workflow task failed as
// non-deterministic.
//
// Everything runs on 127.0.0.1 in a temporary directory; the run is bounded
// by -kills and -timeout. It prints the figures, writes them as JSON to
// -out, and exits 1 when anything was lost, doubled, missed or refused.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/duban/duban/internal/harness"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == temporalCommand {
		if err := serveTemporal(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "chaos temporal-server:", err)
			os.Exit(1)
		}
		return
	}
	shape := flag.String("shape", "single", "single: one process of each part; cluster: two API replicas behind HAProxy, two workers, Temporal's services apart, PostgreSQL with a standby")
	kills := flag.Int("kills", 0, "kills in all, spread evenly over the parts (default 13 of each part, single; 5, cluster)")
	clients := flag.Int("clients", 6, "concurrent clients")
	timeout := flag.Duration("timeout", 60*time.Minute, "give up after this long")
	seed := flag.Uint64("seed", 0, "seed of the random moments (0: from the clock)")
	out := flag.String("out", "chaos/results", "directory for the JSON results")
	keep := flag.Bool("keep", false, "keep the run's directory (logs, databases) instead of removing it")
	rel := flag.Bool("release", false, "with -shape cluster: after the kills, roll out a build of the next workflow revision, replica by replica")
	flag.Parse()
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *shape != "single" && *shape != "cluster" || *rel && *shape != "cluster" {
		fmt.Fprintln(os.Stderr, "chaos: -shape is single or cluster; -release needs the cluster")
		os.Exit(2)
	}
	rep, err := runChaos(ctx, *shape, *kills, *clients, *seed, *out, *keep, *rel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	if !rep.Findings.clean() || len(rep.Refused) > 0 || rep.Kills < *kills {
		os.Exit(1)
	}
}

// report is one run's figures.
type report struct {
	Shape    string         `json:"shape"`
	Started  time.Time      `json:"started"`
	Seconds  float64        `json:"seconds"`
	Seed     uint64         `json:"seed"`
	Clients  int            `json:"clients"`
	Kills    int            `json:"kills"`
	Parts    []string       `json:"parts"`
	PerPart  map[string]int `json:"kills_per_part"`
	Recovery map[string]dur `json:"recovery"` // kill to the first request answered after it, per part
	// Stall is the longest pause in the answers from a kill to the next,
	// per part: with a replica of the part left, how long clients saw
	// nothing answered (an answer in flight at the kill does not hide it).
	Stall map[string]dur `json:"stall"`
	// RepeatedPerPart counts the clients' requests repeated (their answer
	// in doubt: no answer, or a 5xx) from each kill of a part to the next
	// kill, per part.
	RepeatedPerPart map[string]int64 `json:"repeated_per_part"`
	// Answered counts requests answered 2xx (opens and commands); Repeated
	// the repeats after an answer in doubt; Unanswered those that had no
	// answer when the run ended; Refused the 4xx answers (none expected).
	Answered   int      `json:"answered"`
	Opens      int      `json:"opens"`
	Repeated   int64    `json:"repeated"`
	Unanswered int      `json:"unanswered"`
	Refused    []string `json:"refused"`
	Findings   findings `json:"findings"`
	// StreamReconnects counts the stream client's connections after its first.
	StreamReconnects int `json:"stream_reconnects"`
	// WebhookRepeats counts deliveries the subscription's receiver took
	// again (with the same webhook-id: at least once, as promised).
	WebhookRepeats int `json:"webhook_repeats"`
	// Release is the rolling release's, with -release.
	Release *release `json:"release,omitempty"`
}

// dur summarises the recovery times of one part.
type dur struct {
	Median float64 `json:"median_s"`
	Max    float64 `json:"max_s"`
}

func runChaos(ctx context.Context, shape string, kills, clients int, seed uint64, outDir string, keep, rolls bool) (report, error) {
	rep := report{Shape: shape, Started: time.Now().UTC(), Seed: seed, Clients: clients, PerPart: map[string]int{}, Recovery: map[string]dur{},
		Stall: map[string]dur{}, RepeatedPerPart: map[string]int64{}}
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	began := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%6.1fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
	}
	tmp, err := os.MkdirTemp("", "duban-chaos-*")
	if err != nil {
		return rep, err
	}
	if keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	_ = os.Chmod(tmp, 0o755) // PostgreSQL runs as postgres when this runs as root
	logf("building duban")
	binary, err := harness.BuildDuban(tmp)
	if err != nil {
		return rep, err
	}
	next := ""
	if rolls {
		if next, err = buildRehearsal(tmp); err != nil {
			return rep, err
		}
	}
	hooks, err := startSink()
	if err != nil {
		return rep, err
	}
	defer hooks.srv.Close()
	var sys stack
	if shape == "cluster" {
		sys, err = newCluster(tmp, binary, chaosPolicy+hooks.policy())
	} else {
		sys, err = newSystem(tmp, binary, chaosPolicy+hooks.policy())
	}
	if err != nil {
		return rep, err
	}
	defer sys.stop()
	parts := sys.parts()
	for _, p := range parts {
		rep.Parts = append(rep.Parts, p.name)
	}
	if kills == 0 {
		kills = 13 * len(parts)
		if shape == "cluster" {
			kills = 5 * len(parts)
		}
	}
	logf("starting %s", strings.Join(rep.Parts, ", "))
	if err := sys.start(ctx); err != nil {
		return rep, err
	}

	// A stream client follows the whole run, from before the first event.
	stream := &follower{base: sys.apiBase()}
	streamCtx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	go stream.run(streamCtx)
	if err := stream.waitConnected(ctx, time.Minute); err != nil {
		return rep, err
	}

	var l ledger
	ld := newLoad(sys.apiBase(), clients, &l)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() { ld.run(ctx, c) })
	}
	logf("%d clients under way; seed %d", clients, seed)

	recovery := map[string][]time.Duration{}
	var killTimes []killAt
	var order []int
	// The requests repeated since the last kill are that kill's part's.
	lastPart, lastRepeated := "", int64(0)
	countRepeats := func() {
		if lastPart != "" {
			rep.RepeatedPerPart[lastPart] += l.retries.Load() - lastRepeated
		}
	}
	for rep.Kills < kills && ctx.Err() == nil {
		if len(order) == 0 {
			order = rng.Perm(len(parts)) // each part once per cycle, in a random order
		}
		p := parts[order[0]]
		order = order[1:]
		sleep(ctx, time.Duration(1000+rng.IntN(4000))*time.Millisecond)
		before := l.count.Load()
		countRepeats()
		lastPart, lastRepeated = p.name, l.retries.Load()
		killed := time.Now()
		killTimes = append(killTimes, killAt{p.name, killed})
		p.kill()
		// The first request answered after the kill: with a replica of
		// the part left, while it is down.
		answered := make(chan time.Time, 1)
		go func() { _ = waitProgress(ctx, &l, before, 5*time.Minute); answered <- time.Now() }()
		rep.Kills++
		rep.PerPart[p.name]++
		sleep(ctx, time.Duration(rng.IntN(3000))*time.Millisecond) // down for a while
		if err := p.start(ctx); err != nil {
			showTail(p.log(), logf)
			return rep, fmt.Errorf("restart %s after kill %d: %w", p.name, rep.Kills, err)
		}
		// The next kill waits until duban answers again: a kill while it
		// is still recovering would test less, not more.
		if err := waitProgress(ctx, &l, before, 3*time.Minute); err != nil {
			for _, q := range parts {
				showTail(q.log(), logf)
			}
			return rep, fmt.Errorf("after kill %d (%s): %w", rep.Kills, p.name, err)
		}
		firstAnswer := (<-answered).Sub(killed)
		recovery[p.name] = append(recovery[p.name], firstAnswer)
		logf("kill %2d/%d: %-8s back after %.1fs, answering after %.1fs; %d answered, %d repeated", rep.Kills, kills, p.name,
			time.Since(killed).Seconds(), firstAnswer.Seconds(), l.count.Load(), l.retries.Load())
	}
	countRepeats()
	killsEnded := time.Now()
	if rolls && ctx.Err() == nil {
		rep.Release = &release{began: time.Now()}
		repeated := l.retries.Load()
		logf("rolling out the next release: the workers one by one, then the API replicas")
		if err := sys.(*cluster).roll(ctx, next, logf); err != nil {
			return rep, fmt.Errorf("the release: %w", err)
		}
		rep.Release.ended = time.Now()
		rep.Release.Seconds = round(rep.Release.ended.Sub(rep.Release.began).Seconds())
		rep.Release.Repeated = l.retries.Load() - repeated
		logf("rolled out in %.1fs; the load goes on for 20s on the new release", rep.Release.Seconds)
		sleep(ctx, 20*time.Second)
	}
	ld.stopping.Store(true)
	logf("kills done; letting the clients finish their requests")
	wg.Wait()
	summarise := func(per map[string][]time.Duration, into map[string]dur) {
		for name, ds := range per {
			slices.Sort(ds)
			into[name] = dur{Median: round(ds[len(ds)/2].Seconds()), Max: round(ds[len(ds)-1].Seconds())}
		}
	}
	summarise(recovery, rep.Recovery)
	summarise(stalls(killTimes, killsEnded, l.answered), rep.Stall)
	rep.Answered, rep.Repeated, rep.Unanswered, rep.Refused = len(l.answered), l.retries.Load(), l.unanswered, l.refused
	for _, a := range l.answered {
		if a.Kind == "open" {
			rep.Opens++
		}
	}

	// Every step of the last case's ladder is due lastDue; give the timers
	// time to fire, then check, and check again while steps are missing
	// (timers of a server that just restarted may run late).
	lastDue := l.lastOpen.Add(ackSLA + level2After)
	logf("waiting for the last deadlines (%s) to come due", lastDue.Format(time.TimeOnly))
	sleep(ctx, time.Until(lastDue)+5*time.Second)
	for attempt := 1; ; attempt++ {
		if rep.Findings, err = check(ctx, sys.databaseURL(), l.answered); err != nil {
			return rep, err
		}
		if len(rep.Findings.Missed) == 0 || attempt == 12 || ctx.Err() != nil {
			break
		}
		logf("%d steps not recorded yet; checking again in 10s", len(rep.Findings.Missed))
		sleep(ctx, 10*time.Second)
	}
	if rep.Findings.StreamMissed, rep.Findings.StreamDoubled, rep.StreamReconnects, err = checkStream(ctx, sys.databaseURL(), stream); err != nil {
		return rep, err
	}
	stopStream()
	logf("waiting for the subscription's last deliveries")
	if rep.Findings.WebhooksLost, rep.Findings.WebhookSignatures, rep.WebhookRepeats, err = checkWebhooks(ctx, sys.databaseURL(), hooks); err != nil {
		return rep, err
	}
	if rep.Release != nil {
		if rep.Findings.ReleaseFlaws, err = sys.(*cluster).checkRelease(ctx, rep.Release, l.answered); err != nil {
			return rep, err
		}
	}
	rep.Seconds = round(time.Since(began).Seconds())
	printReport(rep)
	if err := writeReport(rep, outDir); err != nil {
		return rep, err
	}
	return rep, ctx.Err()
}

// killAt is when a part was killed.
type killAt struct {
	part string
	at   time.Time
}

// stalls is, per part, the longest pause in the answers after each of its
// kills, up to the next kill (the last: up to end, when the kills ended).
func stalls(kills []killAt, end time.Time, answers []answered) map[string][]time.Duration {
	times := make([]time.Time, len(answers))
	for i, a := range answers {
		times[i] = a.At
	}
	slices.SortFunc(times, time.Time.Compare)
	out := map[string][]time.Duration{}
	for i, k := range kills {
		until := end
		if i+1 < len(kills) {
			until = kills[i+1].at
		}
		longest, last := time.Duration(0), k.at
		for _, t := range times {
			if t.Before(k.at) {
				continue
			}
			if t.After(until) {
				break
			}
			longest, last = max(longest, t.Sub(last)), t
		}
		out[k.part] = append(out[k.part], max(longest, until.Sub(last)))
	}
	return out
}

func waitProgress(ctx context.Context, l *ledger, before int64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for l.count.Load() <= before {
		if time.Now().After(deadline) {
			return fmt.Errorf("no request answered for %s after the restart", within)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func round(v float64) float64 { return float64(int(v*10+0.5)) / 10 }

// showTail prints the last lines of a log, so a failed run says why
// before its directory is removed.
func showTail(path string, logf func(string, ...any)) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	logf("last lines of %s:\n%s", filepath.Base(path), strings.Join(lines[max(0, len(lines)-15):], "\n"))
}

func printReport(r report) {
	f := r.Findings
	fmt.Printf("\nchaos (%s): %d kills in %.0fs (seed %d, %d clients)\n", r.Shape, r.Kills, r.Seconds, r.Seed, r.Clients)
	for _, name := range r.Parts {
		fmt.Printf("  %-9s killed %2d times; answering again after %.1fs (median), %.1fs (max); longest pause in answers %.1fs (median), %.1fs (max); requests repeated %d\n",
			name, r.PerPart[name], r.Recovery[name].Median, r.Recovery[name].Max, r.Stall[name].Median, r.Stall[name].Max, r.RepeatedPerPart[name])
	}
	fmt.Printf("  requests answered 2xx %d (%d opens), repeated after doubt %d, unanswered at the end %d, refused %d\n",
		r.Answered, r.Opens, r.Repeated, r.Unanswered, len(r.Refused))
	fmt.Printf("  store: %d cases, %d events; the stream client reconnected %d times; the webhook receiver took %d repeats\n",
		f.Cases, f.Events, r.StreamReconnects, r.WebhookRepeats)
	rows := []struct {
		what  string
		items []string
	}{
		{"lost (answered, not recorded)", f.Lost},
		{"duplicated", f.Duplicated},
		{"missed deadline steps", f.Missed},
		{"spurious deadline steps", f.Spurious},
		{"audit flaws", f.AuditFlaws},
		{"projection rows differing", f.ProjectionDiffers},
		{"stream: events never received", f.StreamMissed},
		{"stream: events received twice", f.StreamDoubled},
		{"webhooks: events never delivered", f.WebhooksLost},
		{"webhooks: bad signatures", f.WebhookSignatures},
		{"refused (4xx)", r.Refused},
		{"release: revision flaws", f.ReleaseFlaws},
	}
	for _, row := range rows {
		fmt.Printf("  %-30s %d\n", row.what, len(row.items))
		for _, it := range row.items[:min(len(row.items), 10)] {
			fmt.Printf("      %s\n", it)
		}
	}
	line, _ := json.Marshal(map[string]any{
		"shape": r.Shape, "kills": r.Kills, "kills_per_part": r.PerPart, "answered": r.Answered, "repeated": r.Repeated,
		"lost": len(f.Lost), "duplicated": len(f.Duplicated), "missed_deadlines": len(f.Missed),
		"spurious_deadlines": len(f.Spurious), "audit_flaws": len(f.AuditFlaws),
		"projection_differs": len(f.ProjectionDiffers), "refused": len(r.Refused),
		"stream_missed": len(f.StreamMissed), "stream_doubled": len(f.StreamDoubled), "stream_reconnects": r.StreamReconnects,
		"webhooks_lost": len(f.WebhooksLost), "webhook_bad_signatures": len(f.WebhookSignatures), "webhook_repeats": r.WebhookRepeats,
	})
	fmt.Println(string(line))
	if rl := r.Release; rl != nil {
		fmt.Printf("  release rolled out in %.1fs, requests repeated meanwhile %d; cases by revision: opened before %v, after %v; workflow tasks failed %d, as non-deterministic %d (the frontend: %d)\n",
			rl.Seconds, rl.Repeated, rl.OldCases, rl.NewCases, rl.FailedTasks, rl.NonDeterministic, rl.FrontendNonDeterministic)
	}
}

func writeReport(r report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	name := r.Started.Format("20060102T150405Z")
	if r.Shape != "single" {
		name += "-" + r.Shape
	}
	file := filepath.Join(dir, name+".json")
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("results: %s\n", file)
	return nil
}
