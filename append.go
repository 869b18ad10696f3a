package duban

import (
	"errors"
	"fmt"
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
