package duban

import (
	"fmt"
	"strings"
	"time"
)

// Status is where a case stands in its life.
type Status string

// The statuses of SPEC.md. Open statuses are all but closed and cancelled.
const (
	StatusReported   Status = "reported"
	StatusUnrouted   Status = "unrouted"
	StatusDispatched Status = "dispatched"
	StatusDisputed   Status = "disputed"
	StatusInProgress Status = "in_progress"
	StatusSuspended  Status = "suspended"
	StatusResolved   Status = "resolved"
	StatusClosed     Status = "closed"
	StatusCancelled  Status = "cancelled"
)

// Statuses lists every status, in the order a case usually passes them.
var Statuses = []Status{
	StatusReported, StatusUnrouted, StatusDispatched, StatusDisputed, StatusInProgress,
	StatusSuspended, StatusResolved, StatusClosed, StatusCancelled,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// OpenStatuses lists the statuses of cases still open.
func OpenStatuses() []Status {
	var out []Status
	for _, s := range Statuses {
		if s.Open() {
			out = append(out, s)
		}
	}
	return out
}

// InboxStatuses are the statuses of the cases a unit's inbox shows: those
// in its hands (to acknowledge, to resolve, suspended at its request) and
// those awaiting the inspector's verification of what it did. A case still
// reported (a resident's, awaiting the office's check) or unrouted is no
// unit's yet; one it disputed awaits the office's decision.
func InboxStatuses() []Status {
	return []Status{StatusDispatched, StatusInProgress, StatusSuspended, StatusResolved}
}

// Open reports whether a case in status s still awaits something.
func (s Status) Open() bool {
	return s.Valid() && s != StatusClosed && s != StatusCancelled
}

// Outcome is how a finished case ended.
type Outcome string

// The outcomes of SPEC.md. Only fixed counts as fixed anywhere; a case
// cancelled as invalid or as a duplicate counts nowhere in the scorecards.
const (
	OutcomeFixed           Outcome = "fixed"             // closed after a passed verification
	OutcomeDuplicate       Outcome = "duplicate"         // cancelled, merged into another case
	OutcomeInvalid         Outcome = "invalid"           // cancelled: not a real problem (作废)
	OutcomeNoFurtherAction Outcome = "no_further_action" // cancelled: real, but nothing will be done
)

// cancelOutcomes are the outcomes a cancellation may give.
var cancelOutcomes = []Outcome{OutcomeInvalid, OutcomeDuplicate, OutcomeNoFurtherAction}

// Severity selects a category's SLA: urgent problems get shorter deadlines.
type Severity string

// The severities of SPEC.md.
const (
	SeverityNormal Severity = "normal"
	SeverityUrgent Severity = "urgent"
)

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool { return s == SeverityNormal || s == SeverityUrgent }

// Location is where the problem is. Area is the district or zone name that
// routing rules and reports filter on.
type Location struct {
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	Address string  `json:"address,omitempty"`
	Area    string  `json:"area,omitempty"`
}

// Evidence is a photo, video or document backing a report or a fix: at a
// URL elsewhere, or an attachment duban stores (its id, "sha256:<hex>").
type Evidence struct {
	URL        string `json:"url,omitempty"`
	Attachment string `json:"attachment,omitempty"`
	Kind       string `json:"kind"`
}

// Deadlines are the due times of a case's stages; nil until a stage is armed.
type Deadlines struct {
	// AssignBy is when a supervisor must have dispatched an unrouted or
	// disputed case; nil for cases opened under terms without it.
	AssignBy      *time.Time `json:"assign_by"`
	AcknowledgeBy *time.Time `json:"acknowledge_by"`
	ResolveBy     *time.Time `json:"resolve_by"`
	VerifyBy      *time.Time `json:"verify_by"`
	// CheckBy is when the office must have checked a resident's report
	// (confirmed or rejected it); nil for every other case.
	CheckBy *time.Time `json:"check_by,omitempty"`
}

// Stage is an obligation with a deadline: a supervisor must dispatch an
// unrouted or disputed case; the unit must acknowledge, then resolve; an
// inspector must then verify.
type Stage string

// The stages of SPEC.md.
const (
	StageAssign      Stage = "assign"
	StageAcknowledge Stage = "acknowledge"
	StageResolve     Stage = "resolve"
	StageVerify      Stage = "verify"
)

// Case is the state of one case: the fold of its events with Evolve. It is
// what the projection stores and what the workflow holds; the API shapes it
// for the wire.
type Case struct {
	ID      string `json:"id"`
	Number  string `json:"number,omitempty"` // 2026-000123: see CaseNumber
	Version int64  `json:"version"`
	// ChangedVersion is the version of the latest event but duban's own
	// steps of a ladder (warnings, escalations), which change nothing a
	// person decides a command on (see Stale). 0 in a case folded before
	// it was kept.
	ChangedVersion int64      `json:"changed_version,omitempty"`
	Status         Status     `json:"status"`
	Category       string     `json:"category"`
	Severity       Severity   `json:"severity"`
	Description    string     `json:"description"`
	Location       Location   `json:"location"`
	Evidence       []Evidence `json:"evidence,omitempty"`
	Unit           string     `json:"unit,omitempty"`
	Reporter       string     `json:"reporter"`
	OpenedAt       time.Time  `json:"opened_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	Deadlines      Deadlines  `json:"deadlines"`
	ReworkCount    int        `json:"rework_count"`

	// Warned and EscalationLevel record the ladder steps already taken for
	// the running stage and its current deadline. Both go back to zero when
	// the stage or its deadline changes.
	Warned          bool `json:"warned,omitempty"`
	EscalationLevel int  `json:"escalation_level"`

	// Dispute says which unit said "not ours", and why, while disputed.
	Dispute *UnitDispute `json:"dispute,omitempty"`
	// Extensions are the unit's requests for a later resolve deadline.
	Extensions  []Extension `json:"extensions,omitempty"`
	UrgeCount   int         `json:"urge_count,omitempty"`
	LastUrgedAt *time.Time  `json:"last_urged_at,omitempty"`
	// DuplicateOf is the case a cancelled duplicate report was merged into.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Suspension is set while the case is suspended: every clock is stopped.
	Suspension *Suspension `json:"suspension,omitempty"`
	// Outcome is how the case ended, once it has.
	Outcome Outcome `json:"outcome,omitempty"`
	// Found is where a site inspection found the problem; nil for a case
	// opened otherwise.
	Found *Found `json:"found,omitempty"`
	// Listed says a plate hangs on the case (挂牌督办): a 顽疾 opened listed,
	// or a supervisor listed it.
	Listed bool `json:"listed,omitempty"`
	// Public is set on a resident's report (随手拍, Open311): how it came,
	// its check, its points and its rating; nil for every other case.
	Public *Public `json:"public,omitempty"`
	// ObligationSince is when the unit's latest resolve obligation began:
	// its dispatch, or its reopening by a failed verification.
	ObligationSince *time.Time `json:"obligation_since,omitempty"`

	// Terms are the SLA, calendar and ladder the case was opened under, kept
	// with the case so a new policy never changes the rules of an open case.
	Terms         Terms  `json:"terms"`
	PolicyVersion string `json:"policy_version,omitempty"`
	// RequestHash fingerprints the request that opened the case, so a retried
	// open with the same Idempotency-Key can be told from a different one.
	RequestHash string `json:"request_hash,omitempty"`
}

// UnitDispute is a unit's "not ours".
type UnitDispute struct {
	Unit   string `json:"unit"`
	Reason string `json:"reason"`
}

// Extension statuses. A pending request lapses when the case leaves its
// unit's hands (resolved, disputed, reassigned, cancelled) undecided.
const (
	ExtensionPending  = "pending"
	ExtensionApproved = "approved"
	ExtensionRefused  = "refused"
	ExtensionLapsed   = "lapsed"
)

// Extension is a unit's request to resolve later than the deadline.
type Extension struct {
	N           int       `json:"n"` // counts from 1: the {n} of the decision route
	Until       time.Time `json:"until"`
	Reason      string    `json:"reason"`
	Status      string    `json:"status"`
	RequestedBy string    `json:"requested_by"`
	DecidedBy   string    `json:"decided_by,omitempty"`
	Note        string    `json:"note,omitempty"`
}

// pendingExtension returns the request awaiting a decision, if any.
func (c *Case) pendingExtension() *Extension {
	for i := range c.Extensions {
		if c.Extensions[i].Status == ExtensionPending {
			return &c.Extensions[i]
		}
	}
	return nil
}

// Suspension is a pause of every deadline clock (挂起): waiting for parts,
// for the weather, for another authority.
type Suspension struct {
	// From is the status the case returns to when it resumes.
	From   Status     `json:"from"`
	Since  time.Time  `json:"since"`
	Until  *time.Time `json:"until,omitempty"`
	Reason string     `json:"reason"`
}

// RunningStage returns the stage whose deadline is running and that deadline.
// ok is false when no clock runs: while suspended, once the
// case is over, and for an unrouted or disputed case opened under terms
// without an assign deadline.
func (c *Case) RunningStage() (stage Stage, deadline time.Time, ok bool) {
	var due *time.Time
	switch c.Status {
	case StatusReported:
		stage, due = StageCheck, c.Deadlines.CheckBy
	case StatusUnrouted, StatusDisputed:
		stage, due = StageAssign, c.Deadlines.AssignBy
	case StatusDispatched:
		stage, due = StageAcknowledge, c.Deadlines.AcknowledgeBy
	case StatusInProgress:
		stage, due = StageResolve, c.Deadlines.ResolveBy
	case StatusResolved:
		stage, due = StageVerify, c.Deadlines.VerifyBy
	}
	if due == nil {
		return "", time.Time{}, false
	}
	return stage, *due, true
}

// Ladder returns the escalation steps of the running stage with their due
// times, earliest first; nil when no stage is running.
func (c *Case) Ladder() []Step {
	stage, deadline, ok := c.RunningStage()
	if !ok {
		return nil
	}
	return c.Terms.steps(stage, deadline)
}

// OverdueAt reports whether the running stage's deadline has passed at now.
func (c *Case) OverdueAt(now time.Time) bool { return c.Clock().Overdue(now) }

// EscalationLevelAt returns the escalation level of the running stage at
// now; see Clock.Level.
func (c *Case) EscalationLevelAt(now time.Time) int { return c.Clock().Level(now) }

// NextStep returns the earliest step of the running stage not yet recorded.
func (c *Case) NextStep() (Step, bool) {
	for _, s := range c.Ladder() {
		if !c.taken(s) {
			return s, true
		}
	}
	return Step{}, false
}

// NextWake returns when the case next needs the system without anyone
// asking: its next ladder step, the end of its suspension, or the end of
// a resident's rating window.
func (c *Case) NextWake() (time.Time, bool) {
	if c.Status == StatusClosed && c.Public != nil && c.Public.RateBy != nil {
		return *c.Public.RateBy, true
	}
	if c.Status == StatusSuspended {
		if c.Suspension != nil && c.Suspension.Until != nil {
			return *c.Suspension.Until, true
		}
		return time.Time{}, false
	}
	step, ok := c.NextStep()
	return step.At, ok
}

// taken reports whether step s has already been recorded for the running stage.
func (c *Case) taken(s Step) bool {
	if s.Level == 0 {
		return c.Warned
	}
	return s.Level <= c.EscalationLevel
}

// CaseFilter selects cases for a list. Empty fields match everything.
type CaseFilter struct {
	Statuses []Status
	Unit     string
	Category string
	// Categories, when set, keeps the cases of these categories (as the
	// public sees them: the public categories).
	Categories []string
	Severity   Severity
	Area       string
	// Text, when set, keeps the case with that number when it looks like
	// one (see LooksLikeCaseNumber), else the cases whose description or
	// address holds it, ignoring case (see Case.HasText).
	Text string
	// Reporter, when set, keeps the cases opened by that principal.
	Reporter string
	// OpenedFrom and OpenedBefore, when set, keep the cases opened in
	// [OpenedFrom, OpenedBefore).
	OpenedFrom, OpenedBefore time.Time
	// UpdatedFrom, when set, keeps the cases changed at or after it.
	UpdatedFrom time.Time
	// Site, Item and Round, when set, keep the cases a site inspection
	// found there, of that item, in that round; Listed, when set, those
	// listed (挂牌督办), or not.
	Site, Item, Round string
	Listed            *bool
	// Rating, when set, keeps the residents' reports whose latest closing
	// their reporter rated so.
	Rating Rating
	// Overdue and Escalated, when set, keep only cases whose running stage
	// is (or is not) overdue, or escalated to level 1 or more, at Now.
	Overdue   *bool
	Escalated *bool
	Now       time.Time
	// Limit is the page size; After resumes after the last case of a page.
	Limit int
	After *CaseCursor
}

// CaseCursor is a position in the list order: newest opened first, then by id.
type CaseCursor struct {
	OpenedAt time.Time `json:"t"`
	ID       string    `json:"id"`
}

// BoardCursor is a position in the escalation board's order: the highest
// escalation level first, then the longest overdue, then by id. A case
// whose level rises while a client pages may be passed over: the board is
// read again from its first page to see what is worst now.
type BoardCursor struct {
	Level    int       `json:"l"`
	Deadline time.Time `json:"d"`
	ID       string    `json:"id"`
}

// CaseCounts are the cases by status at an instant, and of the open ones
// those overdue and, by level, those escalated: what operators graph.
type CaseCounts struct {
	ByStatus  map[Status]int
	Overdue   int
	Escalated map[int]int // level (1 and above) → cases
}

// CaseNumber is a case's number as people say it on the phone: the year of
// opening and a sequence within it, never reused ("2026-000123").
func CaseNumber(year, seq int) string { return fmt.Sprintf("%d-%06d", year, seq) }

// LooksLikeCaseNumber reports whether s has a case number's shape, so that
// a search for it looks the number up rather than the text.
func LooksLikeCaseNumber(s string) bool {
	year, seq, ok := strings.Cut(s, "-")
	if len(year) != 4 || !ok || len(seq) < 6 {
		return false
	}
	for _, r := range year + seq {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// NumberYear is the year whose sequence numbers a case opened at t: the
// year of t in the policy's time zone.
func (p *Policy) NumberYear(t time.Time) int { return t.In(p.Location()).Year() }

// HasText reports whether a search for text finds c: its number, when text
// looks like one, else its description or address holding text, ignoring
// case.
func (c *Case) HasText(text string) bool {
	if LooksLikeCaseNumber(text) {
		return c.Number == text
	}
	text = strings.ToLower(text)
	return strings.Contains(strings.ToLower(c.Description), text) || strings.Contains(strings.ToLower(c.Location.Address), text)
}
