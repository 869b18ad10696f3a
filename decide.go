package duban

import (
	"fmt"
	"slices"
	"time"
)

// Decide is the case's whole rulebook: given the case as it stands, a command
// and the time, it returns the events the command causes, or refuses it with
// an *Error and causes nothing. It is pure: the workflow, the application
// layer's early check and the tests all call it, and nothing else decides a
// transition or refuses a command. What a decision needs to know beyond the
// case travels in the command (see OpenCase).
//
// A command that changes nothing (an open retried with the same request)
// returns no events and no error.
//
// A command given on a version of the case (If-Match) is stale, and
// refused, when the case has changed since (Case.Stale): a unit
// acknowledging a case as its page showed it is not refused because duban
// has since escalated it, but is after a supervisor reassigned or
// commented on it.
// Every door (the API, the pages, Open311) judges it here, the same way.
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
	if c.Stale(m.IfMatch) {
		return nil, Errorf(EPRECONDITION, "the case is at version %d, not %d", c.Version, m.IfMatch)
	}
	if err := cmd.validate(); err != nil {
		return nil, err
	}
	d := &decision{c: &c, by: m.By, now: now}
	if _, ok := cmd.(Tick); !ok {
		d.recordDueSteps(System)
	}
	switch cmd := cmd.(type) {
	case Acknowledge:
		return d.acknowledge()
	case Resolve:
		return d.resolve(cmd)
	case Verify:
		return d.verify(cmd)
	case AddComment:
		return d.comment(cmd)
	case Dispute:
		return d.dispute(cmd)
	case Assign:
		return d.assign(cmd)
	case RequestExtension:
		return d.requestExtension(cmd)
	case DecideExtension:
		return d.decideExtension(cmd)
	case Urge:
		return d.urge(cmd)
	case Cancel:
		return d.cancel(cmd)
	case Suspend:
		return d.suspend(cmd)
	case Resume:
		return d.resume(cmd.Note, d.now)
	case List:
		return d.list(cmd)
	case Delist:
		return d.delist(cmd)
	case Confirm:
		return d.confirm(cmd)
	case Reject:
		return d.reject(cmd)
	case Rate:
		return d.rate(cmd)
	case Reopen:
		return d.reopen(cmd)
	case Tick:
		return d.tick()
	}
	return nil, Errorf(EINVALID, "unknown command %q", cmd.Name())
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
	mayOpen := cmd.By.MayOpen
	if cmd.Public != nil {
		mayOpen = cmd.By.MayReport
	}
	if err := mayOpen(); err != nil {
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
	var found *Found
	if cmd.Finding != nil {
		f := cmd.Finding.found(now)
		found = &f
	}
	d.emit(CaseReported{
		Number:        cmd.Number,
		Category:      cmd.Category,
		Severity:      cmd.Severity,
		Description:   cmd.Description,
		Location:      cmd.Location,
		Evidence:      slices.Clone(cmd.Evidence),
		Terms:         cmd.Terms,
		PolicyVersion: cmd.PolicyVersion,
		RequestHash:   cmd.RequestHash,
		Found:         found,
		Public:        cmd.Public.reported(d),
	})
	if cmd.Public != nil {
		return d.events, nil // the office checks it first
	}
	if cmd.Unit == "" {
		d.emitAs(System, CaseUnrouted{Reason: fmt.Sprintf("no unit is responsible for category %q in this area", cmd.Category), AssignBy: d.assignBy()})
	} else {
		dispatched := d.dispatch(cmd.Unit, cmd.RouteReason)
		if cmd.Routing != nil {
			dispatched.Reason, dispatched.Routing = cmd.Routing.Reason(cmd.Unit), cmd.Routing
		}
		d.emitAs(System, dispatched)
	}
	if found != nil && cmd.Finding.listed(found.Recurrence) {
		d.emitAs(System, CaseListed{
			Reason:     fmt.Sprintf("item %s failed at site %s %d times in a row (顽疾)", found.Item, found.Site, found.Recurrence),
			Recurrence: found.Recurrence,
		})
	}
	return d.events, nil
}

// list hangs a plate on an open case (挂牌督办).
func (d *decision) list(cmd List) ([]Event, error) {
	switch {
	case !d.c.Status.Open():
		return d.refuse("list")
	case d.c.Listed:
		return nil, Errorf(ECONFLICT, "the case is already listed")
	}
	d.emit(CaseListed{Reason: cmd.Reason})
	return d.events, nil
}

// delist takes the plate down.
func (d *decision) delist(cmd Delist) ([]Event, error) {
	switch {
	case !d.c.Status.Open():
		return d.refuse("delist")
	case !d.c.Listed:
		return nil, Errorf(ECONFLICT, "the case is not listed")
	}
	d.emit(CaseDelisted{Reason: cmd.Reason})
	return d.events, nil
}

// assignBy is the deadline of a fresh assign stage, nil under terms without one.
func (d *decision) assignBy() *time.Time {
	if d.c.Terms.SLA.Assign <= 0 {
		return nil
	}
	return new(d.due(d.c.Terms.SLA.Assign))
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

// dispute: the unit hands the case back; its clocks stop, and the assign
// stage's starts.
func (d *decision) dispute(cmd Dispute) ([]Event, error) {
	if d.c.Status != StatusDispatched && d.c.Status != StatusInProgress {
		return d.refuse("dispute")
	}
	d.emit(CaseDisputed{Unit: d.c.Unit, Reason: cmd.Reason, StageClock: stageClock(d.c, d.now), AssignBy: d.assignBy()})
	return d.events, nil
}

// assign dispatches the case to a unit with fresh deadlines.
func (d *decision) assign(cmd Assign) ([]Event, error) {
	switch d.c.Status {
	case StatusUnrouted, StatusDisputed:
	case StatusDispatched, StatusInProgress:
		if cmd.Unit == d.c.Unit {
			return nil, Errorf(ECONFLICT, "the case is already assigned to %s", cmd.Unit)
		}
	default:
		return d.refuse("assign")
	}
	from, overruled := d.c.Unit, false
	if d.c.Dispute != nil {
		from, overruled = d.c.Dispute.Unit, d.c.Dispute.Unit == cmd.Unit
	}
	d.emit(CaseAssigned{Unit: cmd.Unit, From: from, Reason: cmd.Reason, StageClock: stageClock(d.c, d.now), DisputeOverruled: overruled})
	dispatched, why := d.dispatch(cmd.Unit, ""), Routing{AssignedBy: d.by.ID}
	dispatched.Reason, dispatched.Routing = why.Reason(cmd.Unit), &why
	d.emitAs(System, dispatched)
	return d.events, nil
}

// maxAhead bounds how far ahead a requested deadline or suspension may reach.
const maxAhead = 366 * 24 * time.Hour

func (d *decision) requestExtension(cmd RequestExtension) ([]Event, error) {
	if d.c.Status != StatusDispatched && d.c.Status != StatusInProgress {
		return d.refuse("request an extension of")
	}
	if p := d.c.pendingExtension(); p != nil {
		return nil, Errorf(ECONFLICT, "extension %d is still waiting for a decision", p.N)
	}
	resolveBy := *d.c.Deadlines.ResolveBy
	until := cmd.Until.UTC().Truncate(time.Millisecond)
	switch {
	case !until.After(resolveBy):
		return nil, Invalid(Field("until", "must be later than the resolve deadline, %s", resolveBy.Format(time.RFC3339)))
	case !until.After(d.now):
		return nil, Invalid(Field("until", "must be in the future"))
	case until.Sub(d.now) > maxAhead:
		return nil, Invalid(Field("until", "must be within a year"))
	}
	d.emit(ExtensionRequested{N: len(d.c.Extensions) + 1, Until: until, Reason: cmd.Reason, ResolveBy: resolveBy})
	return d.events, nil
}

func (d *decision) decideExtension(cmd DecideExtension) ([]Event, error) {
	if d.c.Status != StatusDispatched && d.c.Status != StatusInProgress {
		return d.refuse("decide an extension of")
	}
	if cmd.N > len(d.c.Extensions) {
		return nil, Errorf(ENOTFOUND, "the case has no extension request %d", cmd.N)
	}
	ext := d.c.Extensions[cmd.N-1]
	if ext.Status != ExtensionPending {
		return nil, Errorf(ECONFLICT, "extension %d is %s, not pending", cmd.N, ext.Status)
	}
	resolveBy := *d.c.Deadlines.ResolveBy
	if cmd.Approved {
		resolveBy = ext.Until
	}
	d.emit(ExtensionDecided{N: cmd.N, Approved: cmd.Approved, Note: cmd.Note, ResolveBy: resolveBy})
	return d.events, nil
}

func (d *decision) urge(cmd Urge) ([]Event, error) {
	if !d.c.Status.Open() {
		return d.refuse("urge")
	}
	d.emit(CaseUrged{Note: cmd.Note, Unit: d.c.Unit, UrgeCount: d.c.UrgeCount + 1, StageClock: stageClock(d.c, d.now)})
	return d.events, nil
}

func (d *decision) cancel(cmd Cancel) ([]Event, error) {
	if !d.c.Status.Open() {
		return d.refuse("cancel")
	}
	if cmd.DuplicateOf == d.c.ID {
		return nil, Invalid(Field("duplicate_of", "a case cannot be a duplicate of itself"))
	}
	if o := cmd.Original; cmd.DuplicateOf != "" && !o.Status.Open() {
		return nil, Errorf(ECONFLICT, "case %s is %s: a duplicate is merged into a case that stays open", o.ID, o.Status)
	}
	d.emit(CaseCancelled{Reason: cmd.Reason, DuplicateOf: cmd.DuplicateOf, StageClock: stageClock(d.c, d.now), Outcome: cmd.outcome()})
	return d.events, nil
}

func (d *decision) suspend(cmd Suspend) ([]Event, error) {
	if d.c.Status != StatusDispatched && d.c.Status != StatusInProgress {
		return d.refuse("suspend")
	}
	var until *time.Time
	if cmd.Until != nil {
		u := cmd.Until.UTC().Truncate(time.Millisecond)
		switch {
		case !u.After(d.now):
			return nil, Invalid(Field("until", "must be in the future"))
		case u.Sub(d.now) > maxAhead:
			return nil, Invalid(Field("until", "must be within a year"))
		}
		until = &u
	}
	d.emit(CaseSuspended{Reason: cmd.Reason, Until: until, From: d.c.Status})
	return d.events, nil
}

// resume restarts the clocks as of at: each deadline not yet met moves on by
// the working time the case was suspended until then.
func (d *decision) resume(note string, at time.Time) ([]Event, error) {
	if d.c.Status != StatusSuspended || d.c.Suspension == nil {
		return d.refuse("resume")
	}
	cal := d.c.Terms.Calendar
	paused := cal.Between(d.c.Suspension.Since, at)
	moved := d.c.Deadlines
	shift := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		return new(cal.Add(*t, paused))
	}
	if d.c.Suspension.From == StatusDispatched {
		moved.AcknowledgeBy = shift(moved.AcknowledgeBy)
	}
	moved.ResolveBy = shift(moved.ResolveBy)
	d.emit(CaseResumed{Note: note, SuspendedSeconds: int64(paused / time.Second), Deadlines: moved})
	return d.events, nil
}

// tick does what has come due with no one asking: it ends a suspension whose
// time is up, or records the ladder steps that have come due. Steps of a
// stage that is over, or of a deadline that has since moved, are not in the
// ladder any more, so a timer armed for them records nothing.
func (d *decision) tick() ([]Event, error) {
	if s := d.c.Suspension; d.c.Status == StatusSuspended && s != nil && s.Until != nil {
		if d.now.Before(*s.Until) {
			return nil, nil
		}
		return d.resume("the suspension ended", *s.Until)
	}
	d.recordDueSteps(d.by)
	return d.events, nil
}

// recordDueSteps records, as by, every step of the running stage's ladder
// that has come due and is not yet recorded, in order. Decide calls it
// before any command, so a step whose timer has not fired yet (an engine
// busy or restarting at that moment) is recorded before the command that
// could end its stage: every step that came due is in the history once.
func (d *decision) recordDueSteps(by Principal) {
	for _, s := range d.c.Ladder() {
		if s.At.After(d.now) {
			break
		}
		if d.c.taken(s) {
			continue
		}
		if s.Level == 0 {
			d.emitAs(by, DeadlineWarned{Stage: s.Stage, Deadline: s.Deadline, DueAt: s.At})
		} else {
			d.emitAs(by, CaseEscalated{Level: s.Level, Stage: s.Stage, Deadline: s.Deadline, DueAt: s.At})
		}
	}
}

// Stale reports whether a command decided on version v of c (its If-Match;
// 0, none) is stale: v is not a version c has had, or c has changed since
// but by duban's own steps of its deadlines' ladders (DeadlineWarned,
// CaseEscalated), which change nothing a person decided on. Any other
// change is: a person's, a comment included, and what follows from one.
func (c *Case) Stale(v int64) bool {
	if v == 0 {
		return false
	}
	changed := c.ChangedVersion
	if changed == 0 {
		changed = c.Version // folded before ChangedVersion was kept: any change counts
	}
	return v > c.Version || v < changed
}
