package duban

import "time"

// The scorecards (综合评价) count facts: what each event of a case says of a
// unit or an inspector, kept by the store beside the events in the same
// transaction, so that a period's rows are aggregations over them rather
// than a scan of every event. Assess is their one definition.

// FactKind names what a fact counts.
type FactKind string

// The kinds of facts.
const (
	FactOpened          FactKind = "opened"             // Actor (an inspector) opened a case
	FactDispatched      FactKind = "dispatched"         // a dispatch or an assignment to Unit
	FactAcknowledged    FactKind = "acknowledged"       // Unit acknowledged, Minutes after the dispatch
	FactResolved        FactKind = "resolved"           // Unit resolved: an obligation handled; Late after its deadline in force; Minutes after it began
	FactVerification    FactKind = "verification"       // Actor verified Unit's resolution; Failed: rework; Late: after the verify deadline
	FactClosed          FactKind = "closed"             // closed, Unit's the last resolution
	FactExtension       FactKind = "extension_approved" // an extension Unit asked for was approved
	FactEscalation      FactKind = "escalation"         // escalated to Level while the case was Unit's
	FactUrge            FactKind = "urge"               // Unit was urged (催办)
	FactNoFurtherAction FactKind = "no_further_action"  // cancelled while Unit's: real, but nothing will be done
	FactRecurrence      FactKind = "recurrence"         // dispatched to Unit: a failure a site inspection found again (顽疾)
	FactListed          FactKind = "listed"             // listed (挂牌督办) while the case was Unit's
	FactRated           FactKind = "rated"              // the reporter rated Unit's handling (回访); Failed: not satisfied
)

// Fact is one countable thing: of Unit (a unit's) or Actor (an
// inspector's), at an instant, in a case of Category and Area.
type Fact struct {
	CaseID   string    `json:"case_id"`
	Version  int64     `json:"version"` // of the event that made it
	Kind     FactKind  `json:"kind"`
	At       time.Time `json:"at"`
	Unit     string    `json:"unit,omitempty"`
	Actor    string    `json:"actor,omitempty"`
	Category string    `json:"category"`
	Area     string    `json:"area,omitempty"`
	Level    int       `json:"level,omitempty"`
	Late     bool      `json:"late,omitempty"`
	Failed   bool      `json:"failed,omitempty"`
	Minutes  float64   `json:"minutes,omitempty"`
}

// Stretch is a time in which a unit's resolve obligation stood unchanged:
// its unit, its deadline in force, its clock running or stopped. An
// obligation is a run of stretches from its start (a dispatch, or a
// reopening by a failed verification) to its end (a resolution, or its
// voiding: disputed away, assigned elsewhere, cancelled). The scorecards
// read from them which obligations were running, and overdue, at an instant.
type Stretch struct {
	CaseID    string     `json:"case_id"`
	Version   int64      `json:"version"` // of the event it began with
	Since     time.Time  `json:"since"`
	Until     *time.Time `json:"until,omitempty"` // nil while it lasts
	Unit      string     `json:"unit"`
	Category  string     `json:"category"`
	Area      string     `json:"area,omitempty"`
	Deadline  time.Time  `json:"deadline"`
	Suspended bool       `json:"suspended,omitempty"`
}

// Assessed is what one event changes of the scorecards' facts and stretches.
type Assessed struct {
	Facts []Fact
	// Ends: the case's stretch, if one lasts, ends at the event.
	Ends bool
	// Begins is the stretch that begins with the event, if any.
	Begins *Stretch
	// Retract: the case now counts nowhere (cancelled as invalid or as a
	// duplicate): every fact and stretch of it goes.
	Retract bool
}

// Assess returns what event e, on case c as it stood before e, changes of
// the scorecards' facts and stretches.
func Assess(c Case, e Event) Assessed {
	var a Assessed
	fact := func(kind FactKind, unit string) *Fact {
		a.Facts = append(a.Facts, Fact{CaseID: e.CaseID, Version: e.Version, Kind: kind, At: e.OccurredAt, Unit: unit,
			Category: c.Category, Area: c.Location.Area})
		return &a.Facts[len(a.Facts)-1]
	}
	begin := func(unit string, deadline time.Time, suspended bool) {
		a.Begins = &Stretch{CaseID: e.CaseID, Version: e.Version, Since: e.OccurredAt, Unit: unit,
			Category: c.Category, Area: c.Location.Area, Deadline: deadline, Suspended: suspended}
	}
	since := func() float64 {
		if c.ObligationSince == nil {
			return 0
		}
		return e.OccurredAt.Sub(*c.ObligationSince).Minutes()
	}
	switch d := e.Data.(type) {
	case CaseReported:
		if e.Actor.Role != RoleResident { // the inspectors' figures count inspectors' opens
			a.Facts = append(a.Facts, Fact{CaseID: e.CaseID, Version: e.Version, Kind: FactOpened, At: e.OccurredAt,
				Actor: e.Actor.ID, Category: d.Category, Area: d.Location.Area})
		}
	case CaseDispatched:
		if f := c.Found; f != nil && f.Recurrence > 1 {
			fact(FactRecurrence, d.Unit)
		}
		fact(FactDispatched, d.Unit)
		a.Ends = true // a reassignment voids the last unit's obligation
		begin(d.Unit, *d.Deadlines.ResolveBy, false)
	case CaseAcknowledged:
		fact(FactAcknowledged, c.Unit).Minutes = since()
	case CaseDisputed:
		a.Ends = true
	case CaseResolved:
		f := fact(FactResolved, c.Unit)
		f.Late, f.Minutes = d.LateSeconds > 0, since()
		a.Ends = true
	case VerificationPassed:
		f := fact(FactVerification, c.Unit)
		f.Actor, f.Late = e.Actor.ID, d.LateSeconds > 0
	case VerificationFailed:
		f := fact(FactVerification, c.Unit)
		f.Actor, f.Late, f.Failed = e.Actor.ID, d.LateSeconds > 0, true
		begin(c.Unit, d.ResolveBy, false)
	case CaseClosed:
		fact(FactClosed, c.Unit)
	case ReporterRated:
		fact(FactRated, c.Unit).Failed = !d.Rating.Satisfied()
	case CaseReopened:
		begin(c.Unit, d.ResolveBy, false) // a fresh resolve obligation
	case ExtensionDecided:
		if d.Approved {
			fact(FactExtension, c.Unit)
			a.Ends = true
			begin(c.Unit, d.ResolveBy, false)
		}
	case CaseEscalated:
		if c.Unit != "" {
			fact(FactEscalation, c.Unit).Level = d.Level
		}
	case CaseUrged:
		if d.Unit != "" {
			fact(FactUrge, d.Unit)
		}
	case CaseListed:
		if c.Unit != "" {
			fact(FactListed, c.Unit)
		}
	case CaseSuspended:
		a.Ends = true
		begin(c.Unit, *c.Deadlines.ResolveBy, true)
	case CaseResumed:
		a.Ends = true
		begin(c.Unit, *d.Deadlines.ResolveBy, false)
	case CaseCancelled:
		switch d.outcome() {
		case OutcomeInvalid, OutcomeDuplicate:
			a.Retract = true
		default:
			if c.Unit != "" {
				fact(FactNoFurtherAction, c.Unit)
			}
			a.Ends = true
		}
	}
	return a
}

// AssessHistory returns the facts and stretches of a case's whole history.
func AssessHistory(events []Event) ([]Fact, []Stretch) {
	var c Case
	var facts []Fact
	var stretches []Stretch
	for _, e := range events {
		a := Assess(c, e)
		if a.Retract {
			facts, stretches = nil, nil
		}
		if n := len(stretches); a.Ends && n > 0 && stretches[n-1].Until == nil {
			stretches[n-1].Until = new(e.OccurredAt)
		}
		if a.Begins != nil {
			stretches = append(stretches, *a.Begins)
		}
		facts = append(facts, a.Facts...)
		c = Evolve(c, e)
	}
	return facts, stretches
}
