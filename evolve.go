package duban

import "slices"

// Evolve returns the case after event e. Folding a case's events in version
// order with Evolve, from the zero Case, gives its current state: the workflow
// and the projection both do exactly that.
func Evolve(c Case, e Event) Case {
	stage, deadline, running := c.RunningStage()
	switch d := e.Data.(type) {
	case CaseReported:
		c = Case{
			ID:            e.CaseID,
			Number:        d.Number,
			Status:        StatusReported,
			Category:      d.Category,
			Severity:      d.Severity,
			Description:   d.Description,
			Location:      d.Location,
			Evidence:      slices.Clone(d.Evidence),
			Reporter:      e.Actor.ID,
			OpenedAt:      e.OccurredAt,
			Terms:         d.Terms,
			PolicyVersion: d.PolicyVersion,
			RequestHash:   d.RequestHash,
			Found:         d.Found,
		}
		if p := d.Public; p != nil {
			c.Public = &Public{Channel: p.Channel, RatingWindowSeconds: p.RatingWindowSeconds}
			c.Deadlines.CheckBy = new(p.CheckBy)
		}
	case CaseDispatched:
		c.Status = StatusDispatched
		c.ObligationSince = new(e.OccurredAt)
		c.Unit = d.Unit
		c.Deadlines = d.Deadlines
		c.Dispute = nil
		c.Extensions = lapse(c.Extensions) // a reassigned case drops the last unit's requests
	case CaseUnrouted:
		c.Status = StatusUnrouted
		c.Deadlines.AssignBy = d.AssignBy
	case CaseAcknowledged:
		c.Status = StatusInProgress
	case CaseResolved:
		c.Status = StatusResolved
		c.Deadlines.VerifyBy = new(d.VerifyBy)
		c.Extensions = lapse(c.Extensions)
	case VerificationFailed:
		c.Status = StatusInProgress
		c.ObligationSince = new(e.OccurredAt)
		c.ReworkCount = d.ReworkCount
		c.Deadlines.ResolveBy = new(d.ResolveBy)
		c.Deadlines.VerifyBy = nil
	case CaseClosed:
		c.Status = StatusClosed
		c.Outcome = OutcomeFixed
	case DeadlineWarned:
		if running && d.Stage == stage && d.Deadline.Equal(deadline) {
			c.Warned = true
		}
	case CaseEscalated:
		if running && d.Stage == stage && d.Deadline.Equal(deadline) && d.Level > c.EscalationLevel {
			c.EscalationLevel = d.Level
		}
	case CaseDisputed:
		c.Status = StatusDisputed
		c.Deadlines.AssignBy = d.AssignBy
		c.Dispute = &UnitDispute{Unit: d.Unit, Reason: d.Reason}
		c.Unit = ""
		c.Extensions = lapse(c.Extensions)
	case ExtensionRequested:
		c.Extensions = append(slices.Clip(c.Extensions), Extension{
			N: d.N, Until: d.Until, Reason: d.Reason, Status: ExtensionPending, RequestedBy: e.Actor.ID,
		})
	case ExtensionDecided:
		c.Extensions = slices.Clone(c.Extensions)
		ext := &c.Extensions[d.N-1]
		ext.Status, ext.DecidedBy, ext.Note = ExtensionRefused, e.Actor.ID, d.Note
		if d.Approved {
			ext.Status = ExtensionApproved
		}
		c.Deadlines.ResolveBy = new(d.ResolveBy)
	case CaseUrged:
		c.UrgeCount = d.UrgeCount
		c.LastUrgedAt = new(e.OccurredAt)
	case CaseCancelled:
		c.Status = StatusCancelled
		c.DuplicateOf = d.DuplicateOf
		c.Outcome = d.outcome()
		c.Extensions = lapse(c.Extensions)
	case CaseSuspended:
		c.Suspension = &Suspension{From: c.Status, Since: e.OccurredAt, Until: d.Until, Reason: d.Reason}
		c.Status = StatusSuspended
	case CaseListed:
		c.Listed = true
	case CaseDelisted:
		c.Listed = false
	case CaseResumed:
		c.Status = c.Suspension.From
		c.Deadlines = d.Deadlines
		c.Suspension = nil
	}
	c = evolvePublic(c, e)
	c.Version = e.Version
	c.UpdatedAt = e.OccurredAt
	switch e.Data.(type) {
	case DeadlineWarned, CaseEscalated: // duban's own steps: see Case.Stale
	default:
		c.ChangedVersion = e.Version
	}
	// The ladder belongs to one stage and one deadline: when either changes,
	// the steps taken no longer count. A suspension pauses the ladder and its
	// resumption shifts every step by the same working time, so the steps
	// taken before still count.
	switch e.Data.(type) {
	case CaseSuspended, CaseResumed:
	default:
		if s, dl, ok := c.RunningStage(); ok != running || s != stage || !dl.Equal(deadline) {
			c.Warned = false
			c.EscalationLevel = 0
		}
	}
	return c
}

// lapse marks a pending extension request lapsed: the case left the hands of
// the unit that asked before anyone decided.
func lapse(exts []Extension) []Extension {
	i := slices.IndexFunc(exts, func(x Extension) bool { return x.Status == ExtensionPending })
	if i < 0 {
		return exts
	}
	exts = slices.Clone(exts)
	exts[i].Status = ExtensionLapsed
	return exts
}

// Fold applies events to c in order.
func Fold(c Case, events []Event) Case {
	for _, e := range events {
		c = Evolve(c, e)
	}
	return c
}
