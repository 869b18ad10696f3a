package duban

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/google/uuid"
)

// EventType names what happened to a case.
type EventType string

// The event types of SPEC.md.
const (
	EventCaseReported       EventType = "CaseReported"
	EventCaseDispatched     EventType = "CaseDispatched"
	EventCaseUnrouted       EventType = "CaseUnrouted"
	EventCaseAcknowledged   EventType = "CaseAcknowledged"
	EventCaseDisputed       EventType = "CaseDisputed"
	EventCaseAssigned       EventType = "CaseAssigned"
	EventCaseResolved       EventType = "CaseResolved"
	EventVerificationPassed EventType = "VerificationPassed"
	EventVerificationFailed EventType = "VerificationFailed"
	EventCaseClosed         EventType = "CaseClosed"
	EventCaseCancelled      EventType = "CaseCancelled"
	EventDeadlineWarned     EventType = "DeadlineWarned"
	EventCaseEscalated      EventType = "CaseEscalated"
	EventExtensionRequested EventType = "ExtensionRequested"
	EventExtensionDecided   EventType = "ExtensionDecided"
	EventCaseUrged          EventType = "CaseUrged"
	EventCommentAdded       EventType = "CommentAdded"
	EventCaseSuspended      EventType = "CaseSuspended"
	EventCaseResumed        EventType = "CaseResumed"
	EventCaseListed         EventType = "CaseListed"
	EventCaseDelisted       EventType = "CaseDelisted"
	// Residents' reports (resident.go).
	EventReportConfirmed EventType = "ReportConfirmed"
	EventReportRejected  EventType = "ReportRejected"
	EventReporterRated   EventType = "ReporterRated"
	EventCaseReopened    EventType = "CaseReopened"
)

// Event is one change to a case. Events are appended, never changed; a case's
// state is the fold of its events with Evolve.
type Event struct {
	ID         string    `json:"id"`
	CaseID     string    `json:"case_id"`
	Version    int64     `json:"version"`
	Position   int64     `json:"position"` // global order, assigned by the event store
	Type       EventType `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	Actor      Principal `json:"actor"`
	Data       EventData `json:"data"`
}

// EventData is the type-specific payload of an event.
type EventData interface {
	EventType() EventType
}

// eventIDSpace is the UUID namespace of event ids.
var eventIDSpace = uuid.MustParse("6f1c2b9e-5d0a-4b53-9a8e-2f3d7c41e0b5")

// EventID returns the id of a case's event at version: a name-based UUID, so
// that writing the same event twice (a retried append) is recognisable.
func EventID(caseID string, version int64) string {
	return uuid.NewSHA1(eventIDSpace, fmt.Appendf(nil, "%s/%d", caseID, version)).String()
}

// eventDataTypes maps each event type to the Go type of its payload.
var eventDataTypes = dataTypes(
	CaseReported{}, CaseDispatched{}, CaseUnrouted{}, CaseAcknowledged{}, CaseResolved{},
	VerificationPassed{}, VerificationFailed{}, CaseClosed{}, DeadlineWarned{}, CaseEscalated{},
	CommentAdded{}, CaseDisputed{}, CaseAssigned{}, ExtensionRequested{}, ExtensionDecided{},
	CaseUrged{}, CaseCancelled{}, CaseSuspended{}, CaseResumed{}, CaseListed{}, CaseDelisted{},
	ReportConfirmed{}, ReportRejected{}, ReporterRated{}, CaseReopened{},
	// A sanction's, not a case's: the sanction as it stood after each.
	Sanction{}, Sanction{FollowUp: &FollowUp{}},
)

// EventTypes lists every event type, sorted: the cases' and the
// sanctions' (SanctionImposed, SanctionDone).
func EventTypes() []EventType {
	return slices.Sorted(maps.Keys(eventDataTypes))
}

func dataTypes(payloads ...EventData) map[EventType]reflect.Type {
	m := make(map[EventType]reflect.Type, len(payloads))
	for _, p := range payloads {
		m[p.EventType()] = reflect.TypeOf(p)
	}
	return m
}

// DecodeEventData decodes the JSON payload of an event of type t.
func DecodeEventData(t EventType, raw []byte) (EventData, error) {
	typ, ok := eventDataTypes[t]
	if !ok {
		return nil, fmt.Errorf("unknown event type %q", t)
	}
	p := reflect.New(typ)
	if err := json.Unmarshal(raw, p.Interface()); err != nil {
		return nil, fmt.Errorf("decode %s data: %w", t, err)
	}
	return p.Elem().Interface().(EventData), nil
}

// UnmarshalJSON decodes Data according to Type.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var raw struct {
		plain
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = Event(raw.plain)
	d, err := DecodeEventData(e.Type, raw.Data)
	if err != nil {
		return err
	}
	e.Data = d
	return nil
}

// CaseReported opens a case: what was found, where, and the terms it runs by.
type CaseReported struct {
	Number        string     `json:"number,omitempty"`
	Category      string     `json:"category"`
	Severity      Severity   `json:"severity"`
	Description   string     `json:"description"`
	Location      Location   `json:"location"`
	Evidence      []Evidence `json:"evidence,omitempty"`
	Terms         Terms      `json:"terms"`
	PolicyVersion string     `json:"policy_version,omitempty"`
	RequestHash   string     `json:"request_hash,omitempty"`
	// Found is where a site inspection found the problem: nil for every
	// other open.
	Found *Found `json:"found,omitempty"`
	// Public is set on a resident's report, which waits for the office's
	// check until CheckBy.
	Public *PublicReported `json:"public,omitempty"`
}

// CaseDispatched sends a case to the unit responsible, with fresh deadlines.
type CaseDispatched struct {
	Unit      string    `json:"unit"`
	Deadlines Deadlines `json:"deadlines"`
	Reason    string    `json:"reason,omitempty"` // why this unit, in English (a supervisor's words, for an assignment)
	// Routing is what sent the case to the unit; nil on dispatches
	// recorded before it was.
	Routing *Routing `json:"routing,omitempty"`
}

// CaseUnrouted says no unit was found; a supervisor must assign one.
type CaseUnrouted struct {
	Reason string `json:"reason"`
	// AssignBy is when a supervisor must have dispatched it.
	AssignBy *time.Time `json:"assign_by,omitempty"`
}

// Lateness is how a stage's obligation was met against the deadline in force:
// which deadline it was and by how many seconds it was late (0 when on time).
type Lateness struct {
	Deadline    time.Time `json:"deadline"`
	LateSeconds int64     `json:"late_seconds"`
}

// lateness measures now against deadline.
func lateness(deadline *time.Time, now time.Time) Lateness {
	if deadline == nil {
		return Lateness{}
	}
	l := Lateness{Deadline: *deadline}
	if now.After(*deadline) {
		l.LateSeconds = int64(now.Sub(*deadline) / time.Second)
	}
	return l
}

// CaseAcknowledged: the unit has taken the case on.
type CaseAcknowledged struct {
	Lateness
}

// CaseResolved: the unit reports the problem fixed; verification is due.
type CaseResolved struct {
	Note     string     `json:"note"`
	Evidence []Evidence `json:"evidence,omitempty"`
	VerifyBy time.Time  `json:"verify_by"`
	Lateness
}

// VerificationPassed: an inspector confirmed the fix.
type VerificationPassed struct {
	Note     string     `json:"note,omitempty"`
	Evidence []Evidence `json:"evidence,omitempty"`
	Lateness
}

// VerificationFailed: the fix did not hold; the case goes back to the unit
// with a fresh resolve deadline.
type VerificationFailed struct {
	Note        string     `json:"note"`
	Evidence    []Evidence `json:"evidence,omitempty"`
	ReworkCount int        `json:"rework_count"`
	ResolveBy   time.Time  `json:"resolve_by"`
	Lateness
}

// CaseClosed: the case is over, fixed and verified.
type CaseClosed struct{}

// DeadlineWarned: the running stage's deadline is near.
type DeadlineWarned struct {
	Stage    Stage     `json:"stage"`
	Deadline time.Time `json:"deadline"`
	DueAt    time.Time `json:"due_at"` // when the warning was due; the event may be recorded a little later
}

// CaseEscalated: the running stage is overdue and has climbed to Level.
type CaseEscalated struct {
	Level    int       `json:"level"`
	Stage    Stage     `json:"stage"`
	Deadline time.Time `json:"deadline"`
	DueAt    time.Time `json:"due_at"`
}

// CommentAdded: someone with access wrote a note on the case.
type CommentAdded struct {
	Text string `json:"text"`
}

// StageClock is the running stage when something happened, and how its
// deadline stood: what a report needs to judge a dispute, an urge or a
// cancellation. Empty when no stage was running.
type StageClock struct {
	Stage Stage `json:"stage,omitempty"`
	Lateness
}

// stageClock reads the running stage of c at now.
func stageClock(c *Case, now time.Time) StageClock {
	stage, deadline, ok := c.RunningStage()
	if !ok {
		return StageClock{}
	}
	return StageClock{Stage: stage, Lateness: lateness(&deadline, now)}
}

// CaseDisputed: the assigned unit says the case is not theirs.
type CaseDisputed struct {
	Unit   string `json:"unit"`
	Reason string `json:"reason"`
	StageClock
	// AssignBy is when a supervisor must have dispatched it again.
	AssignBy *time.Time `json:"assign_by,omitempty"`
}

// CaseAssigned: a supervisor gave the case to a unit; CaseDispatched follows
// with the fresh deadlines. The stage clock is the stage the assignment
// ended: assign for an unrouted or disputed case.
type CaseAssigned struct {
	Unit   string `json:"unit"`
	From   string `json:"from,omitempty"` // the unit it had, or that disputed it
	Reason string `json:"reason,omitempty"`
	StageClock
	// DisputeOverruled is set when a disputed case is assigned straight back
	// to the unit that said it was not theirs: a dispute that did not hold.
	DisputeOverruled bool `json:"dispute_overruled,omitempty"`
}

// ExtensionRequested: the unit asks to resolve by Until.
type ExtensionRequested struct {
	N         int       `json:"n"`
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"`
	ResolveBy time.Time `json:"resolve_by"` // the deadline in force when asked
}

// ExtensionDecided: a supervisor approved or refused request N. ResolveBy is
// the resolve deadline in force after the decision.
type ExtensionDecided struct {
	N         int       `json:"n"`
	Approved  bool      `json:"approved"`
	Note      string    `json:"note,omitempty"`
	ResolveBy time.Time `json:"resolve_by"`
}

// CaseUrged (催办): a supervisor pressed the unit. The event is the unit's
// notification: Unit is whom it is for.
type CaseUrged struct {
	Note      string `json:"note"`
	Unit      string `json:"unit,omitempty"`
	UrgeCount int    `json:"urge_count"`
	StageClock
}

// CaseCancelled: the case ended without a fix: withdrawn, or a duplicate
// report merged into DuplicateOf.
type CaseCancelled struct {
	Reason      string `json:"reason"`
	DuplicateOf string `json:"duplicate_of,omitempty"`
	StageClock
	// Outcome is invalid, duplicate or no_further_action; events recorded
	// before it existed have none (see CaseCancelled.outcome).
	Outcome Outcome `json:"outcome,omitempty"`
}

// outcome is how the cancellation ended the case: as recorded, or, for an
// event recorded before outcomes were, a duplicate when it names the case
// it duplicates, else invalid.
func (d CaseCancelled) outcome() Outcome {
	switch {
	case d.Outcome != "":
		return d.Outcome
	case d.DuplicateOf != "":
		return OutcomeDuplicate
	}
	return OutcomeInvalid
}

// CaseSuspended: every deadline clock stops, until a resume or Until.
type CaseSuspended struct {
	Reason string     `json:"reason"`
	Until  *time.Time `json:"until,omitempty"`
	From   Status     `json:"from"`
}

// CaseResumed: the clocks run again. The deadlines not yet met moved on by
// the working time the case was suspended.
type CaseResumed struct {
	Note             string    `json:"note,omitempty"`
	SuspendedSeconds int64     `json:"suspended_seconds"` // working time, on the case's calendar
	Deadlines        Deadlines `json:"deadlines"`
}

// CaseListed hangs a plate on the case (挂牌督办): it leads the board until
// it is closed. Recurrence is the n of a 顽疾 that opened listed (the
// system's listing), 0 for a supervisor's.
type CaseListed struct {
	Reason     string `json:"reason"`
	Recurrence int    `json:"recurrence,omitempty"`
}

// CaseDelisted takes the plate down.
type CaseDelisted struct {
	Reason string `json:"reason,omitempty"`
}

// EventType implementations.
func (CaseReported) EventType() EventType       { return EventCaseReported }
func (CaseDispatched) EventType() EventType     { return EventCaseDispatched }
func (CaseUnrouted) EventType() EventType       { return EventCaseUnrouted }
func (CaseAcknowledged) EventType() EventType   { return EventCaseAcknowledged }
func (CaseResolved) EventType() EventType       { return EventCaseResolved }
func (VerificationPassed) EventType() EventType { return EventVerificationPassed }
func (VerificationFailed) EventType() EventType { return EventVerificationFailed }
func (CaseClosed) EventType() EventType         { return EventCaseClosed }
func (DeadlineWarned) EventType() EventType     { return EventDeadlineWarned }
func (CaseEscalated) EventType() EventType      { return EventCaseEscalated }
func (CommentAdded) EventType() EventType       { return EventCommentAdded }
func (CaseDisputed) EventType() EventType       { return EventCaseDisputed }
func (CaseAssigned) EventType() EventType       { return EventCaseAssigned }
func (ExtensionRequested) EventType() EventType { return EventExtensionRequested }
func (ExtensionDecided) EventType() EventType   { return EventExtensionDecided }
func (CaseUrged) EventType() EventType          { return EventCaseUrged }
func (CaseCancelled) EventType() EventType      { return EventCaseCancelled }
func (CaseSuspended) EventType() EventType      { return EventCaseSuspended }
func (CaseResumed) EventType() EventType        { return EventCaseResumed }
func (CaseListed) EventType() EventType         { return EventCaseListed }
func (CaseDelisted) EventType() EventType       { return EventCaseDelisted }

// Evidence returns the evidence the event carries: a report's, a
// resolution's or a verification's; nil for the others.
func (e Event) Evidence() []Evidence {
	switch d := e.Data.(type) {
	case CaseReported:
		return d.Evidence
	case CaseResolved:
		return d.Evidence
	case VerificationPassed:
		return d.Evidence
	case VerificationFailed:
		return d.Evidence
	}
	return nil
}
