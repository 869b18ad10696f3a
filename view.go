package duban

import (
	"slices"
	"time"
)

// View is a case as clients see it (the shape of SPEC.md's case answer)
// less what depends on the clock and on other cases: overdue,
// escalation_level and duplicates, which are added when it is sent. The
// projection keeps each case's view ready to send.
type View struct {
	ID            string       `json:"id"`
	Number        string       `json:"number,omitempty"`
	Status        Status       `json:"status"`
	Category      string       `json:"category"`
	Severity      Severity     `json:"severity"`
	Description   string       `json:"description"`
	Location      Location     `json:"location"`
	Evidence      []Evidence   `json:"evidence"`
	Unit          *string      `json:"unit"`
	Reporter      string       `json:"reporter"`
	OpenedAt      time.Time    `json:"opened_at"`
	UpdatedAt     time.Time    `json:"updated_at"`
	Version       int64        `json:"version"`
	Deadlines     Deadlines    `json:"deadlines"`
	Stage         *Stage       `json:"stage"`
	ReworkCount   int          `json:"rework_count"`
	PolicyVersion string       `json:"policy_version,omitempty"`
	Dispute       *UnitDispute `json:"dispute,omitempty"`
	Extensions    []Extension  `json:"extensions,omitempty"`
	UrgeCount     int          `json:"urge_count,omitempty"`
	LastUrgedAt   *time.Time   `json:"last_urged_at,omitempty"`
	DuplicateOf   string       `json:"duplicate_of,omitempty"`
	Suspension    *Suspension  `json:"suspension,omitempty"`
	// Site, Item, Round and Recurrence say where a site inspection found
	// the problem (SPEC, "Sites and standards"); Listed that it is 挂牌督办.
	Site       string `json:"site,omitempty"`
	Item       string `json:"item,omitempty"`
	Round      string `json:"round,omitempty"`
	Recurrence int    `json:"recurrence,omitempty"`
	Listed     bool   `json:"listed"`
	// Outcome stays last: migration 0009 wrote it at the end of the views
	// it completed.
	Outcome Outcome `json:"outcome,omitempty"`
}

// View returns the case as clients see it.
func (c *Case) View() View {
	v := View{
		ID: c.ID, Number: c.Number, Status: c.Status, Category: c.Category, Severity: c.Severity, Description: c.Description,
		Location: c.Location, Evidence: c.Evidence, Reporter: c.Reporter, OpenedAt: c.OpenedAt,
		UpdatedAt: c.UpdatedAt, Version: c.Version, Deadlines: c.Deadlines, ReworkCount: c.ReworkCount,
		PolicyVersion: c.PolicyVersion, Dispute: c.Dispute, Extensions: c.Extensions, UrgeCount: c.UrgeCount,
		LastUrgedAt: c.LastUrgedAt, DuplicateOf: c.DuplicateOf, Suspension: c.Suspension, Outcome: c.Outcome,
		Listed: c.Listed,
	}
	if f := c.Found; f != nil {
		v.Site, v.Item, v.Round, v.Recurrence = f.Site, f.Item, f.Round, f.Recurrence
	}
	if v.Evidence == nil {
		v.Evidence = []Evidence{}
	}
	if c.Unit != "" {
		v.Unit = &c.Unit
	}
	if stage, _, ok := c.RunningStage(); ok {
		v.Stage = &stage
	}
	return v
}

// Clock is what a case's overdue and escalation_level are read from at any
// instant: the running stage's deadline, the due times of its escalation
// levels, and the level its events have recorded. The projection keeps it
// in columns, so lists and the escalation board filter and sort on it.
type Clock struct {
	// Deadline is the running stage's deadline; nil when no stage runs.
	Deadline *time.Time
	// Levels[i] is when the stage reaches level i+1: the earliest due time
	// of levels i+1 and above, so that Levels never decreases even when a
	// ladder mixing relative and absolute offsets puts a higher level first.
	// The level at an instant is then the number of Levels at or before it,
	// which the projection computes in SQL as width_bucket.
	Levels []time.Time
	// Recorded is the level the case's events have recorded for the stage.
	Recorded int
	// Calendar is the one the case's deadlines are counted on; the zero
	// Calendar (a row stored before it was kept) counts every hour.
	Calendar Calendar
}

// Clock returns the case's clock.
func (c *Case) Clock() Clock {
	_, deadline, ok := c.RunningStage()
	if !ok {
		return Clock{}
	}
	k := Clock{Deadline: &deadline, Recorded: c.EscalationLevel, Calendar: c.Terms.Calendar}
	ladder := c.Ladder()
	slices.SortStableFunc(ladder, func(a, b Step) int { return a.Level - b.Level })
	for _, s := range ladder {
		if s.Level > 0 {
			k.Levels = append(k.Levels, s.At)
		}
	}
	for i := len(k.Levels) - 2; i >= 0; i-- {
		if k.Levels[i+1].Before(k.Levels[i]) {
			k.Levels[i] = k.Levels[i+1]
		}
	}
	return k
}

// Overdue reports whether the running stage's deadline has passed at now.
func (k Clock) Overdue(now time.Time) bool {
	return k.Deadline != nil && !now.Before(*k.Deadline)
}

// Late returns how long the running stage's deadline has passed at now,
// counted as its deadline was, on the case's calendar (working time on a
// business calendar): the one figure of lateness every page shows. Zero
// when the stage is not overdue or none runs.
func (k Clock) Late(now time.Time) time.Duration {
	if !k.Overdue(now) {
		return 0
	}
	return k.Calendar.Between(*k.Deadline, now)
}

// Level returns the escalation level of the running stage at now: the
// highest level whose due time has passed. It is read from the clock so that
// it is right the instant a step comes due, before the workflow's timer has
// recorded it, and it is never below the level recorded. With no stage
// running (suspended, disputed, over) it is 0.
func (k Clock) Level(now time.Time) int {
	if k.Deadline == nil {
		return 0
	}
	level := k.Recorded
	for i, at := range k.Levels {
		if i+1 > level && !now.Before(at) {
			level = i + 1
		}
	}
	return level
}
