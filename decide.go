package duban

import (
	"fmt"
	"slices"
	"time"
)

// Decide is the case's whole rulebook: given the case as it stands, a command
// and the time, it returns the events the command causes, or refuses it with
// an *Error and causes nothing. It is pure: the workflow, the API's early
// checks and the tests all call it, and nothing else decides a transition.
//
// A command that changes nothing (an open retried with the same request)
// returns no events and no error.
//
// Refusals come in a fixed order: a case the actor cannot see is not found
// (404), then a role that may not give the command is forbidden (403), then a
// stale If-Match fails (412), then invalid input (400), and last a state that
// does not allow the command is a conflict (409).
func Decide(c Case, cmd Command, now time.Time) ([]Event, error) {
	// Times are kept to the millisecond: what JSON clients represent, and
	// exactly what PostgreSQL stores, so a case read back from its events is
	// the case the workflow holds.
	now = now.UTC().Truncate(time.Millisecond)
	m := cmd.Meta()
	if open, ok := cmd.(OpenCase); ok {
		return decideOpen(c, open, now)
	}
	if c.Version == 0 || !m.By.CanSee(&c) {
		return nil, Errorf(ENOTFOUND, "case not found")
	}
	if err := authorize(&c, cmd); err != nil {
		return nil, err
	}
	if m.IfMatch != 0 && m.IfMatch != c.Version {
		return nil, Errorf(EPRECONDITION, "the case is at version %d, not %d", c.Version, m.IfMatch)
	}
	if err := cmd.validate(); err != nil {
		return nil, err
	}
	d := &decision{c: &c, by: m.By, now: now}
	switch cmd := cmd.(type) {
	case Acknowledge:
		return d.acknowledge()
	case Resolve:
		return d.resolve(cmd)
	case Verify:
		return d.verify(cmd)
	case AddComment:
		return d.comment(cmd)
	case Tick:
		return d.tick()
	}
	return nil, Errorf(EINVALID, "unknown command %q", cmd.Name())
}

// authorize checks that the actor's role may give cmd to c, which it can see.
func authorize(c *Case, cmd Command) error {
	by := cmd.Meta().By
	var ok bool
	switch cmd.(type) {
	case Acknowledge, Resolve:
		ok = by.Role == RoleUnit && by.Unit == c.Unit
	case Verify:
		ok = by.is(RoleInspector, RoleSupervisor, RoleAdmin)
	case AddComment:
		ok = by.Role != RoleSystem
	case Tick:
		ok = by.Role == RoleSystem
	}
	if !ok {
		return Errorf(EFORBIDDEN, "%s may not %s this case", by.Role.withArticle(), cmd.Name())
	}
	return nil
}

// decision accumulates the events of one command on one case.
type decision struct {
	c      *Case
	by     Principal
	now    time.Time
	events []Event
}

// emit records an event of the decision with the next version.
func (d *decision) emit(data EventData) {
	d.emitAs(d.by, data)
}

// emitAs records an event whose actor is not the command's: what the system
// does in consequence, such as routing or closing.
func (d *decision) emitAs(by Principal, data EventData) {
	v := d.c.Version + int64(len(d.events)) + 1
	d.events = append(d.events, Event{
		ID:         EventID(d.c.ID, v),
		CaseID:     d.c.ID,
		Version:    v,
		Type:       data.EventType(),
		OccurredAt: d.now,
		Actor:      by,
		Data:       data,
	})
}

// refuse is the 409 for a command the case's state does not allow.
func (d *decision) refuse(action string) ([]Event, error) {
	return nil, Errorf(ECONFLICT, "cannot %s a case that is %s", action, d.c.Status)
}

// due returns the deadline of a stage of length dur starting now, on the
// case's calendar.
func (d *decision) due(dur time.Duration) time.Time {
	return d.c.Terms.Calendar.Add(d.now, dur)
}

func decideOpen(c Case, cmd OpenCase, now time.Time) ([]Event, error) {
	if err := cmd.By.MayOpen(); err != nil {
		return nil, err
	}
	if err := cmd.validate(); err != nil {
		return nil, err
	}
	if c.Version > 0 {
		// The same request retried under the same Idempotency-Key is answered
		// with the case as it is; a different request under it is a conflict.
		if c.RequestHash != "" && c.RequestHash == cmd.RequestHash && c.Reporter == cmd.By.ID {
			return nil, nil
		}
		return nil, Errorf(ECONFLICT, "case %s already exists: an Idempotency-Key may not be reused for a different request", c.ID)
	}
	c.ID = cmd.CaseID
	c.Terms = cmd.Terms
	d := &decision{c: &c, by: cmd.By, now: now}
	d.emit(CaseReported{
		Category:      cmd.Category,
		Severity:      cmd.Severity,
		Description:   cmd.Description,
		Location:      cmd.Location,
		Evidence:      slices.Clone(cmd.Evidence),
		Terms:         cmd.Terms,
		PolicyVersion: cmd.PolicyVersion,
		RequestHash:   cmd.RequestHash,
	})
	if cmd.Unit == "" {
		d.emitAs(System, CaseUnrouted{Reason: fmt.Sprintf("no unit is responsible for category %q in this area", cmd.Category)})
		return d.events, nil
	}
	d.emitAs(System, d.dispatch(cmd.Unit, cmd.RouteReason))
	return d.events, nil
}

// dispatch sends the case to unit with fresh acknowledge and resolve deadlines.
func (d *decision) dispatch(unit, reason string) CaseDispatched {
	ack, res := d.due(d.c.Terms.SLA.Acknowledge), d.due(d.c.Terms.SLA.Resolve)
	return CaseDispatched{Unit: unit, Reason: reason, Deadlines: Deadlines{AcknowledgeBy: &ack, ResolveBy: &res}}
}

func (d *decision) acknowledge() ([]Event, error) {
	if d.c.Status != StatusDispatched {
		return d.refuse("acknowledge")
	}
	d.emit(CaseAcknowledged{Lateness: lateness(d.c.Deadlines.AcknowledgeBy, d.now)})
	return d.events, nil
}

func (d *decision) resolve(cmd Resolve) ([]Event, error) {
	if d.c.Status != StatusInProgress {
		return d.refuse("resolve")
	}
	d.emit(CaseResolved{
		Note:     cmd.Note,
		Evidence: slices.Clone(cmd.Evidence),
		VerifyBy: d.due(d.c.Terms.SLA.Verify),
		Lateness: lateness(d.c.Deadlines.ResolveBy, d.now),
	})
	return d.events, nil
}

func (d *decision) verify(cmd Verify) ([]Event, error) {
	if d.c.Status != StatusResolved {
		return d.refuse("verify")
	}
	late := lateness(d.c.Deadlines.VerifyBy, d.now)
	if cmd.Passed {
		d.emit(VerificationPassed{Note: cmd.Note, Evidence: slices.Clone(cmd.Evidence), Lateness: late})
		d.emitAs(System, CaseClosed{})
		return d.events, nil
	}
	d.emit(VerificationFailed{
		Note:        cmd.Note,
		Evidence:    slices.Clone(cmd.Evidence),
		ReworkCount: d.c.ReworkCount + 1,
		ResolveBy:   d.due(d.c.Terms.SLA.Resolve),
		Lateness:    late,
	})
	return d.events, nil
}

func (d *decision) comment(cmd AddComment) ([]Event, error) {
	if !d.c.Status.Open() {
		return d.refuse("comment on")
	}
	d.emit(CommentAdded{Text: cmd.Text})
	return d.events, nil
}

// tick records every ladder step of the running stage that has come due and
// is not yet recorded, in order. Steps of a stage that is over, or of a
// deadline that has since moved, are not in the ladder any more, so a timer
// armed for them records nothing.
func (d *decision) tick() ([]Event, error) {
	for _, s := range d.c.Ladder() {
		if s.At.After(d.now) {
			break
		}
		if d.c.taken(s) {
			continue
		}
		if s.Level == 0 {
			d.emit(DeadlineWarned{Stage: s.Stage, Deadline: s.Deadline, DueAt: s.At})
		} else {
			d.emit(CaseEscalated{Level: s.Level, Stage: s.Stage, Deadline: s.Deadline, DueAt: s.At})
		}
	}
	return d.events, nil
}
