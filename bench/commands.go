package main

import (
	"context"
	"time"
)

// measureCommands times duban's commands (acknowledge, resolve, verify, in
// turn on each client's cases) beside Updates on bare workflows and on
// workflows shaped like a case's, in alternating rounds.
func measureCommands(ctx context.Context, r *benchRun) error {
	const n = 4 // rounds
	z := r.z
	var bareUpdates, shapedUpdates tally
	cmds := newCommandRun(r.caseIDs)
	perRound := int64(z.Commands / n)
	// A shaped workflow ends after its commands, and clients do not share
	// theirs: open twice as many as the commands need.
	nShaped := 2 * z.Commands / len(commandSteps)
	r.logf("  opening %d workflows shaped like cases, untimed", nShaped)
	shapedIDs := make([][]string, z.Clients)
	if err := ceilingOpen(ctx, r.s.tc, ShapedWorkflow, z.Clients, forCount(int64(nShaped)), &tally{}, shapedIDs); err != nil {
		return err
	}
	bare, shaped := newUpdateRun(r.bareIDs, 0), newUpdateRun(shapedIDs, len(commandSteps))
	if r.profileDir != "" {
		r.logf("  commands for %s, profiled into %s", profileFor, r.profileDir)
		profiled := r.s.captureProfiles(r.profileDir)
		if err := dubanCommands(r.c, cmds, forDuration(profileFor)); err != nil {
			return err
		}
		if err := profiled(); err != nil {
			return err
		}
		measured := newCommandRun(cmds.ids) // timed afresh, going on from where the cases are
		measured.next = cmds.next
		cmds = measured
	}
	r.logf("  commands: Updates on bare and on shaped workflows, and duban's commands, %d of each in %d rounds", z.Commands, n)
	var bareRounds, shapedRounds, cmdRounds rounds
	for range n {
		if err := ceilingUpdate(ctx, r.s.tc, bare, forCount(perRound), &bareUpdates); err != nil {
			return err
		}
		bareRounds.end(&bareUpdates.lat)
		if err := ceilingUpdate(ctx, r.s.tc, shaped, forCount(perRound), &shapedUpdates); err != nil {
			return err
		}
		shapedRounds.end(&shapedUpdates.lat)
		if err := dubanCommands(r.c, cmds, forCount(perRound)); err != nil {
			return err
		}
		cmdRounds.end(&cmds.all.lat)
	}
	byCommand := map[string]dist{}
	for name, l := range cmds.byStep {
		byCommand[name] = l.dist()
	}
	bareLat, shapedLat, cmdLat := bareRounds.dist(&bareUpdates.lat), shapedRounds.dist(&shapedUpdates.lat), cmdRounds.dist(&cmds.all.lat)
	r.fig.CeilingUpdateLatency, r.fig.ShapedUpdateLatency = &bareLat, &shapedLat
	r.fig.CommandLatency, r.fig.CommandLatencyByCommand = &cmdLat, byCommand
	return nil
}

// commandSteps are the commands a case goes through, in order.
var commandSteps = []struct {
	name, path, token string
	body              any
}{
	{"acknowledge", "acknowledge", "bench-unit", nil},
	{"resolve", "resolve", "bench-unit", map[string]any{"note": "bags removed, bus stop swept"}},
	{"verify", "verify", "bench-inspector", map[string]any{"passed": true, "note": "checked on site"}},
}

// commandRun is where each caller is in its cases, and what the commands took.
type commandRun struct {
	ids    [][]string
	next   []int
	all    tally
	byStep map[string]*latencies
}

func newCommandRun(ids [][]string) *commandRun {
	r := &commandRun{ids: ids, next: make([]int, len(ids)), byStep: map[string]*latencies{}}
	for _, s := range commandSteps {
		r.byStep[s.name] = &latencies{}
	}
	return r
}

// dubanCommands drives each caller's cases through acknowledge, resolve and
// verify until stop.
func dubanCommands(c *caller, r *commandRun, stop func(int64) bool) error {
	ids, next, steps := r.ids, r.next, commandSteps
	start := time.Now()
	n, err := run(len(ids), stop, func(cl int) error {
		i := next[cl]
		next[cl]++
		if i/len(steps) >= len(ids[cl]) { // a fresh case, untimed
			var out wireCase
			if err := c.call("POST", "/v1/cases", "bench-inspector", openBody("littering"), 201, &out); err != nil {
				return err
			}
			ids[cl] = append(ids[cl], out.ID)
		}
		step := steps[i%len(steps)]
		began := time.Now()
		if err := c.call("POST", "/v1/cases/"+ids[cl][i/len(steps)]+"/"+step.path, step.token, step.body, 200, nil); err != nil {
			return err
		}
		d := time.Since(began)
		r.byStep[step.name].add(d)
		r.all.lat.add(d)
		return nil
	})
	r.all.n += n
	r.all.elapsed += time.Since(start)
	return err
}
