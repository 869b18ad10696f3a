package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// clockTicks is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// cpuTimes is the CPU time each of a stack's processes has used so far:
// "server" is this process (the Temporal server, the bare worker and the
// harness), "api" and "worker" are duban's, "postgres" the cluster's
// processes, those that ended included.
type cpuTimes map[string]time.Duration

func (s *stack) cpuTimes() cpuTimes {
	t := cpuTimes{"server": procCPU(os.Getpid(), false)}
	if s.api != nil {
		t["api"] = procCPU(s.api.PID(), false)
	}
	if s.worker != nil {
		t["worker"] = procCPU(s.worker.PID(), false)
	}
	// The postmaster's children's times are in its own once they end.
	pm := s.pg.PID()
	pg := procCPU(pm, true)
	for _, pid := range children(pm) {
		pg += procCPU(pid, false)
	}
	t["postgres"] = pg
	return t
}

// children are the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if fields := procStat(child); len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// since is the CPU, in seconds, each process used between before and t.
func (t cpuTimes) since(before cpuTimes) map[string]float64 {
	out := make(map[string]float64, len(t))
	for name, d := range t {
		out[name] = math.Round((d-before[name]).Seconds()*100) / 100
	}
	return out
}

// procStat is /proc/PID/stat's fields after the command's name: state,
// ppid, … (nil if the process is gone).
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// procCPU is the user and system time pid has used, with that of its
// children it has waited for if children is set.
func procCPU(pid int, children bool) time.Duration {
	f := procStat(pid)
	if len(f) < 15 {
		return 0
	}
	fields := []int{11, 12} // utime, stime
	if children {
		fields = append(fields, 13, 14) // cutime, cstime
	}
	var ticks int64
	for _, i := range fields {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// burst is how a burst of simultaneous deadlines went: from the instant to
// the last one recorded, how many a second, the CPU each process used and
// PostgreSQL's costliest statements meanwhile.
type burst struct {
	Seconds   float64            `json:"seconds"`
	PerSecond float64            `json:"per_second"`
	CPU       map[string]float64 `json:"cpu_seconds"`
	// Workflows is what Temporal keeps of a sample of the burst's workflows.
	Workflows  workflowSizes `json:"workflows"`
	Statements []statement   `json:"postgres_statements,omitempty"`
}

func (b burst) String() string {
	cpu := make([]string, 0, len(b.CPU))
	for _, name := range []string{"server", "api", "worker", "postgres"} {
		cpu = append(cpu, fmt.Sprintf("%s %.2f", name, b.CPU[name]))
	}
	w := b.Workflows
	out := fmt.Sprintf("the last %.1f s after due, %.0f a second; CPU s: %s; per workflow: mutable state %.0f B, history %.0f events %.0f B, of which the burst %.0f events %.0f B, %.2f tasks timed out",
		b.Seconds, b.PerSecond, strings.Join(cpu, ", "), w.MutableState, w.Events, w.HistoryBytes, w.BurstEvents, w.BurstBytes, w.TimedOut)
	for _, st := range b.Statements[:min(5, len(b.Statements))] {
		out += fmt.Sprintf("\n    PostgreSQL %.0f ms in %d calls (%s): %.80s", st.TotalMS, st.Calls, st.Database, st.Query)
	}
	return out
}

// measureBurst starts measuring a burst of the workflows ids, all due at
// instant due; the returned function, called once the last is recorded at
// end, tells how it went.
func (s *stack) measureBurst(ctx context.Context, ids []string, due time.Time) func(end time.Time) (burst, error) {
	before := make(chan cpuTimes, 1)
	go func() {
		time.Sleep(time.Until(due))
		before <- s.cpuTimes()
	}()
	reset := s.resetStatementsAt(ctx, due)
	return func(end time.Time) (burst, error) {
		secs := end.Sub(due).Seconds()
		b := burst{Seconds: math.Round(secs*100) / 100, PerSecond: math.Round(float64(len(ids))/secs*10) / 10,
			CPU: s.cpuTimes().since(<-before)}
		err := reset()
		if err == nil {
			b.Statements, err = s.statementsSince(ctx)
		}
		if err == nil {
			b.Workflows, err = s.sizesOf(ctx, ids)
		}
		return b, err
	}
}

// pinCores, set by -pin, keeps the Temporal server (this process, with the
// bare worker and the harness) on CPU 0 and duban's processes and
// PostgreSQL on CPU 1.
var pinCores bool

// pin moves every thread of pid, and so the threads and processes it makes
// from then on, to cpu.
func pin(pid, cpu int) error {
	if !pinCores {
		return nil
	}
	var set unix.CPUSet
	set.Set(cpu)
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*", pid))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, _ := strconv.Atoi(filepath.Base(t))
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin %d to CPU %d: %w", tid, cpu, err)
		}
	}
	return nil
}

// pinTree pins pid and its children to cpu.
func pinTree(pid, cpu int) error {
	if err := pin(pid, cpu); err != nil {
		return err
	}
	for _, child := range children(pid) {
		if err := pin(child, cpu); err != nil {
			return err
		}
	}
	return nil
}
