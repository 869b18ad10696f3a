package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"

	"github.com/duban/duban/internal/harness"
	"github.com/duban/duban/workflows"
)

// The rolling release (-release): under the load, after the kills, the
// cluster's duban is replaced replica by replica with a build of the next
// revision of the case workflow (the rehearsal build tag: new runs record
// a marker no older run has), the workers first, then the API replicas,
// each stopped as an orchestrator stops it (SIGINT, then SIGKILL after 30
// s) and its successor ready before the next goes. The workers go first
// because the API starts new cases with its own revision: a case of the
// new revision must never reach a worker that does not know it.

// release is what the roll did and what the checks found of it.
type release struct {
	// Seconds from the first replica stopped to the last one ready.
	Seconds float64 `json:"seconds"`
	// Repeated counts the clients' requests repeated during the roll.
	Repeated int64 `json:"repeated"`
	// OldCases were opened (answered) before the roll began, NewCases
	// opened (sent) after it ended; by the revision their runs carry.
	OldCases map[int]int `json:"old_cases_by_revision"`
	NewCases map[int]int `json:"new_cases_by_revision"`
	// NonDeterministic counts workflow tasks failed as non-deterministic,
	// by the Temporal history service's metrics (failed_workflow_tasks,
	// cause NonDeterministicError), FrontendNonDeterministic the same
	// failures as the frontend counted them
	// (service_errors_nondeterministic); FailedTasks every failed
	// workflow task the history service counted. The services' counts
	// start when they last started: before the roll.
	NonDeterministic         int `json:"non_deterministic_tasks"`
	FrontendNonDeterministic int `json:"frontend_non_deterministic"`
	FailedTasks              int `json:"failed_workflow_tasks"`

	began, ended time.Time
}

// buildRehearsal builds duban with the next revision of the case
// workflow into dir.
func buildRehearsal(dir string) (string, error) {
	binary := filepath.Join(dir, "duban-next")
	if out, err := exec.Command("go", "build", "-tags", "rehearsal", "-o", binary, "./cmd/duban").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the rehearsal release: %v\n%s", err, out)
	}
	return binary, nil
}

// roll replaces the workers, then the API replicas, one by one, with
// binary.
func (c *cluster) roll(ctx context.Context, binary string, logf func(string, ...any)) error {
	c.binary = binary
	for _, kind := range []struct {
		what     string
		replicas *[2]*harness.Process
		start    func(context.Context, int) error
	}{{"worker", &c.workers, c.startWorker}, {"API replica", &c.apis, c.startAPI}} {
		for i := range kind.replicas {
			kind.replicas[i].Stop()
			if err := kind.start(ctx, i); err != nil {
				return err
			}
			logf("%s %d runs the new release", kind.what, i)
			sleep(ctx, 3*time.Second)
		}
	}
	return nil
}

// checkRelease reads the revision of every case's run from Temporal and
// the server's count of non-deterministic workflow tasks: an old case on
// any revision but the old, a new one on any but the new, or a task
// failed as non-deterministic, is a flaw.
func (c *cluster) checkRelease(ctx context.Context, rel *release, opens []answered) ([]string, error) {
	tc, err := client.Dial(client.Options{HostPort: "127.0.0.1:" + strconv.Itoa(c.temporal[0]),
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return nil, err
	}
	defer tc.Close()
	var flaws []string
	rel.OldCases, rel.NewCases = map[int]int{}, map[int]int{}
	for _, a := range opens {
		var want int
		var tally map[int]int
		switch {
		case a.Kind != "open":
			continue
		case a.At.Before(rel.began): // the harness is built as the old release
			want, tally = workflows.Revision, rel.OldCases
		case a.Sent.After(rel.ended):
			want, tally = workflows.Revision+1, rel.NewCases
		default:
			continue // opened during the roll: either
		}
		rev, err := runRevision(ctx, tc, a.CaseID)
		if err != nil {
			return nil, fmt.Errorf("the revision of case %s: %w", a.CaseID, err)
		}
		tally[rev]++
		if rev != want {
			flaws = append(flaws, fmt.Sprintf("case %s (opened at %s) runs revision %d, not %d", a.CaseID, a.At.Format(time.TimeOnly), rev, want))
		}
	}
	history, err := scrape(ctx, c.metrics["history"])
	if err != nil {
		return nil, err
	}
	frontend, err := scrape(ctx, c.metrics["frontend"])
	if err != nil {
		return nil, err
	}
	if len(history["service_requests"]) == 0 {
		return nil, fmt.Errorf("the history service's metrics (port %d) have no service_requests: not the server's metrics", c.metrics["history"])
	}
	for _, s := range history["failed_workflow_tasks"] {
		rel.FailedTasks += s.value
		if strings.Contains(s.labels, "NonDeterministic") {
			rel.NonDeterministic += s.value
		}
	}
	for _, s := range frontend["service_errors_nondeterministic"] {
		rel.FrontendNonDeterministic += s.value
	}
	if rel.NonDeterministic+rel.FrontendNonDeterministic > 0 {
		flaws = append(flaws, fmt.Sprintf("workflow tasks failed as non-deterministic: %d (history), %d (frontend)", rel.NonDeterministic, rel.FrontendNonDeterministic))
	}
	return flaws, nil
}

// runRevision is the revision the case's current run started with.
func runRevision(ctx context.Context, tc client.Client, caseID string) (int, error) {
	it := tc.GetWorkflowHistory(ctx, caseID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	first, err := it.Next()
	if err != nil {
		return 0, err
	}
	var in workflows.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(first.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		return 0, err
	}
	return in.Revision, nil
}

// series is one sample of a metric: its labels, as written, and value.
type series struct {
	labels string
	value  int
}

// scrape reads the Prometheus metrics on port of 127.0.0.1, by name
// (without a _total suffix).
func scrape(ctx context.Context, port int) (map[string][]series, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := map[string][]series{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		labels := ""
		if rest != "" {
			labels, rest, _ = strings.Cut(rest, "}")
		} else {
			name, rest, _ = strings.Cut(line, " ")
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		name = strings.TrimSuffix(name, "_total")
		out[name] = append(out[name], series{labels, int(v)})
	}
	return out, sc.Err()
}
