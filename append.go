package duban

import (
	"errors"
	"fmt"
	"time"
)

// Append is one command's events for one case and the case before them:
// what a case's single writer hands its event store to record at once,
// with what the events change of the projection and of the scorecards, or
// not at all.
type Append struct {
	CaseID string
	// ExpectedVersion is the case's version before Events (0 for a new case).
	ExpectedVersion int64
	// CommandID names the command; stored with each event, so that a
	// repeated command can be recognised by what it recorded.
	CommandID string
	Events    []Event
	// Before is the case at ExpectedVersion (the zero Case for a new one).
	Before Case
}

// Check reports what makes a an append no event store may record: no
// events, events of another case or not numbered on from ExpectedVersion,
// or a case before them at another version.
func (a Append) Check() error {
	if len(a.Events) == 0 {
		return errors.New("append: no events")
	}
	for i, e := range a.Events {
		if e.CaseID != a.CaseID || e.Version != a.ExpectedVersion+int64(i)+1 {
			return fmt.Errorf("append: event %d is %s v%d, want %s v%d", i, e.CaseID, e.Version, a.CaseID, a.ExpectedVersion+int64(i)+1)
		}
	}
	if a.Before.Version != a.ExpectedVersion {
		return fmt.Errorf("append: the case before is at version %d, not %d", a.Before.Version, a.ExpectedVersion)
	}
	return nil
}

// After is the case after the events: the projection's row.
func (a Append) After() Case { return Fold(a.Before, a.Events) }

// Assessed returns what each event changes of the scorecards, in order.
func (a Append) Assessed() []Assessed {
	out := make([]Assessed, len(a.Events))
	c := a.Before
	for i, e := range a.Events {
		out[i] = Assess(c, e)
		c = Evolve(c, e)
	}
	return out
}

// Appended is what an event store holds after Append.ExpectedVersion once
// an append is done: the events appended, with their positions, or, when
// the case had already moved past ExpectedVersion (a retried append whose
// first attempt was committed, or another writer's), the events found
// there. A store never records the same append twice.
type Appended struct {
	Events []Event
	// CommandIDs are the command ids of Events, one each.
	CommandIDs []string
}

// RecordedStep is a warning or an escalation an append records, and how
// late it was recorded.
type RecordedStep struct {
	Level int // 0: the warning
	// CatchUp marks a step that came due before its stage began: an
	// acknowledgement that came after the resolve deadline (which counts
	// from dispatch) starts a stage whose warning and levels are already
	// due, and they are recorded at once. Late is then counted from the
	// stage's beginning, not from the step's due time: what the engine
	// took, not how late the unit was.
	CatchUp bool
	Late    time.Duration
}

// RecordedSteps returns the ladder steps among events, appended to the case
// before them. A step due before the case's last change (before.UpdatedAt)
// is a catch-up: any event appended at an instant records first every step
// of the running stage due by then (Decide), so such a step's stage was not
// running when it came due.
func RecordedSteps(before Case, events []Event) []RecordedStep {
	var out []RecordedStep
	for _, e := range events {
		var level int
		var due time.Time
		switch d := e.Data.(type) {
		case DeadlineWarned:
			due = d.DueAt
		case CaseEscalated:
			level, due = d.Level, d.DueAt
		default:
			continue
		}
		if due.IsZero() { // recorded before events carried it
			continue
		}
		s := RecordedStep{Level: level, Late: e.OccurredAt.Sub(due)}
		if due.Before(before.UpdatedAt) {
			s.CatchUp, s.Late = true, e.OccurredAt.Sub(before.UpdatedAt)
		}
		out = append(out, s)
	}
	return out
}
