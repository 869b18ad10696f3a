package duban_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/duban/duban"
)

// A step recorded by its timer is as late as the engine was; a step already
// due when its stage began (an acknowledgement after the resolve deadline,
// which counts from dispatch) is a catch-up, late by the time from the
// stage's beginning, not by how late the unit was.
func TestRecordedSteps(t *testing.T) {
	system := duban.Tick{CommandMeta: by(duban.System)}
	steps := func(c duban.Case, cmd duban.Command, at time.Time) (duban.Case, []duban.RecordedStep) {
		t.Helper()
		after, events := apply(t, c, cmd, at)
		return after, duban.RecordedSteps(c, events)
	}
	c, _ := apply(t, duban.Case{}, openCmd("sanitation"), t0)

	// The acknowledge stage's warning (due at 22m30s) by its timer, 200 ms late.
	c, got := steps(c, system, t0.Add(22*time.Minute+30*time.Second+200*time.Millisecond))
	if want := []duban.RecordedStep{{Level: 0, Late: 200 * time.Millisecond}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("the warning: %+v, want %+v", got, want)
	}
	// Levels 1 to 3 (due 30m, 4h30m, 24h30m) with the engine down all the
	// while: each as late as it was, none a catch-up.
	c, got = steps(c, system, t0.Add(25*time.Hour))
	if want := []duban.RecordedStep{{Level: 1, Late: 24*time.Hour + 30*time.Minute}, {Level: 2, Late: 20*time.Hour + 30*time.Minute}, {Level: 3, Late: 30 * time.Minute}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("the missed levels: %+v, want %+v", got, want)
	}
	// The unit acknowledges at 26h: the resolve stage (24h from dispatch)
	// begins with its warning and level 1 due; recorded 300 ms later.
	c, got = steps(c, duban.Acknowledge{CommandMeta: by(sanitation)}, t0.Add(26*time.Hour))
	if len(got) != 0 {
		t.Fatalf("the acknowledgement recorded %+v", got)
	}
	c, got = steps(c, system, t0.Add(26*time.Hour+300*time.Millisecond))
	if want := []duban.RecordedStep{{Level: 0, CatchUp: true, Late: 300 * time.Millisecond}, {Level: 1, CatchUp: true, Late: 300 * time.Millisecond}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("the resolve stage's due steps: %+v, want %+v", got, want)
	}
	// Its level 2 (at 28h) by its timer, 100 ms late.
	_, got = steps(c, system, t0.Add(28*time.Hour+100*time.Millisecond))
	if want := []duban.RecordedStep{{Level: 2, Late: 100 * time.Millisecond}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("level 2 of the resolve stage: %+v, want %+v", got, want)
	}
}
