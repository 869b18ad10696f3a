package duban

import "time"

// StageTime is a stage of a case as a page shows it: its deadline as the
// case stands, whether it runs, and, for a stage done, when and against
// which deadline. A finished stage is measured against the moment it was
// done, never against now.
type StageTime struct {
	Stage Stage
	// Due is the stage's deadline as the case stands (Deadlines).
	Due     time.Time
	Running bool
	// Done is when the stage's obligation was last done (acknowledged,
	// resolved, verified, dispatched, checked), and DoneDue the deadline in force
	// then; nil when it was not done (still running, or the case moved
	// past it otherwise: cancelled, disputed, suspended at its end).
	Done    *time.Time
	DoneDue time.Time
}

// OnTime reports whether a done stage was done by its deadline.
func (s StageTime) OnTime() bool { return s.Done != nil && !s.Done.After(s.DoneDue) }

// stageDoneBy is the stage an event does: the obligation it fulfils.
func stageDoneBy(e Event) (Stage, bool) {
	switch e.Data.(type) {
	case CaseAcknowledged:
		return StageAcknowledge, true
	case CaseResolved:
		return StageResolve, true
	case VerificationPassed, VerificationFailed:
		return StageVerify, true
	case CaseDispatched, CaseAssigned:
		return StageAssign, true
	case ReportConfirmed, ReportRejected:
		return StageCheck, true
	}
	return "", false
}

// StageTimes returns the stages of the case events fold to that have a
// deadline or were done, in the order a case passes them, each with when it
// was last done. A stage done whose deadline the case no longer holds (a
// failed verification clears verify_by) shows the deadline it was done
// against.
func StageTimes(events []Event) []StageTime {
	var c Case
	done := map[Stage]StageTime{}
	for _, e := range events {
		if stage, due, ok := c.RunningStage(); ok {
			if did, ok := stageDoneBy(e); ok && did == stage {
				done[stage] = StageTime{Done: &e.OccurredAt, DoneDue: due}
			}
		}
		c = Evolve(c, e)
	}
	running, _, hasStage := c.RunningStage()
	var out []StageTime
	for _, dl := range []struct {
		stage Stage
		at    *time.Time
	}{{StageCheck, c.Deadlines.CheckBy}, {StageAssign, c.Deadlines.AssignBy}, {StageAcknowledge, c.Deadlines.AcknowledgeBy},
		{StageResolve, c.Deadlines.ResolveBy}, {StageVerify, c.Deadlines.VerifyBy}} {
		d, wasDone := done[dl.stage]
		s := StageTime{Stage: dl.stage, Running: hasStage && running == dl.stage}
		switch {
		case dl.at != nil:
			s.Due = *dl.at
		case wasDone:
			s.Due = d.DoneDue
		default:
			continue
		}
		if wasDone && !s.Running {
			s.Done, s.DoneDue = d.Done, d.DoneDue
		}
		out = append(out, s)
	}
	return out
}
