package duban

import (
	"errors"
	"fmt"
)

// Append is one command's events for one case and the case after them:
// what a case's single writer hands its event store to record at once,
// with the projection of the case, or not at all.
type Append struct {
	CaseID string
	// ExpectedVersion is the case's version before Events (0 for a new case).
	ExpectedVersion int64
	// CommandID names the command; stored with each event, so that a
	// repeated command can be recognised by what it recorded.
	CommandID string
	Events    []Event
	Case      Case
}

// Check reports what makes a an append no event store may record: no
// events, events of another case or not numbered on from ExpectedVersion,
// or a case that is not at the version they end at.
func (a Append) Check() error {
	if len(a.Events) == 0 {
		return errors.New("append: no events")
	}
	for i, e := range a.Events {
		if e.CaseID != a.CaseID || e.Version != a.ExpectedVersion+int64(i)+1 {
			return fmt.Errorf("append: event %d is %s v%d, want %s v%d", i, e.CaseID, e.Version, a.CaseID, a.ExpectedVersion+int64(i)+1)
		}
	}
	if last := a.Events[len(a.Events)-1].Version; a.Case.Version != last {
		return fmt.Errorf("append: case is at version %d, events end at %d", a.Case.Version, last)
	}
	return nil
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
