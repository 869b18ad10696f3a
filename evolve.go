package duban

import (
	"slices"
	"time"
)

// Evolve returns the case after event e. Folding a case's events in version
// order with Evolve, from the zero Case, gives its current state: the workflow
// and the projection both do exactly that.
func Evolve(c Case, e Event) Case {
	stage, deadline, running := c.RunningStage()
	switch d := e.Data.(type) {
	case CaseReported:
		c = Case{
			ID:            e.CaseID,
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
		}
	case CaseDispatched:
		c.Status = StatusDispatched
		c.Unit = d.Unit
		c.Deadlines = d.Deadlines
	case CaseUnrouted:
		c.Status = StatusUnrouted
	case CaseAcknowledged:
		c.Status = StatusInProgress
	case CaseResolved:
		c.Status = StatusResolved
		c.Deadlines.VerifyBy = ptr(d.VerifyBy)
	case VerificationFailed:
		c.Status = StatusInProgress
		c.ReworkCount = d.ReworkCount
		c.Deadlines.ResolveBy = ptr(d.ResolveBy)
		c.Deadlines.VerifyBy = nil
	case CaseClosed:
		c.Status = StatusClosed
	case DeadlineWarned:
		if running && d.Stage == stage && d.Deadline.Equal(deadline) {
			c.Warned = true
		}
	case CaseEscalated:
		if running && d.Stage == stage && d.Deadline.Equal(deadline) && d.Level > c.EscalationLevel {
			c.EscalationLevel = d.Level
		}
	}
	c.Version = e.Version
	c.UpdatedAt = e.OccurredAt
	// The ladder belongs to one stage and one deadline: when either changes,
	// the steps taken no longer count.
	if s, dl, ok := c.RunningStage(); ok != running || s != stage || !dl.Equal(deadline) {
		c.Warned = false
		c.EscalationLevel = 0
	}
	return c
}

// Fold applies events to c in order.
func Fold(c Case, events []Event) Case {
	for _, e := range events {
		c = Evolve(c, e)
	}
	return c
}

func ptr(t time.Time) *time.Time { return &t }
