package duban

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Residents take part (SPEC.md, "Residents"): a resident's report (随手拍,
// Open311) waits in reported for the office's check (核实 before 立案); a
// confirmed one is routed as an inspector's open, a rejected one ends
// invalid with its reason. Once closed, the reporter rates it for the
// rating window, and the office may reopen it in that window.

// StageCheck is the office's check of a resident's report.
const StageCheck Stage = "check"

// Rating is a resident's word on how their report was handled (回访).
type Rating string

// The ratings of SPEC.md.
const (
	RatingSatisfied          Rating = "satisfied"           // 满意
	RatingBasicallySatisfied Rating = "basically_satisfied" // 基本满意
	RatingDissatisfied       Rating = "dissatisfied"        // 不满意
)

// Valid reports whether r is a known rating.
func (r Rating) Valid() bool {
	return r == RatingSatisfied || r == RatingBasicallySatisfied || r == RatingDissatisfied
}

// Satisfied reports whether r counts towards the satisfaction rate (满意率):
// satisfied or basically satisfied.
func (r Rating) Satisfied() bool { return r == RatingSatisfied || r == RatingBasicallySatisfied }

// MaxRatingComment bounds a resident's comment with a rating.
const MaxRatingComment = 500 // runes

// Channels a resident's report comes in by.
const (
	ChannelWeb     = "web"     // the public page, or a client of /v1/public
	ChannelOpen311 = "open311" // an Open311 client, "open311:<its name>"
)

// Public is what a case from a resident carries besides a case's fields.
// The reporter is the case's Reporter: a resident principal's id, never
// their phone or name.
type Public struct {
	Channel string `json:"channel"`
	// RatingWindowSeconds is how long after closing the reporter may rate
	// it and the office reopen it: the policy's when reported.
	RatingWindowSeconds int64 `json:"rating_window_seconds"`
	// Points the report earned its reporter when confirmed.
	Points int `json:"points,omitempty"`
	// Rejected is why the office did not file it (不予立案).
	Rejected string `json:"rejected,omitempty"`
	// RateBy is the end of the rating window of the latest closing; nil
	// while the case is not closed.
	RateBy *time.Time `json:"rate_by,omitempty"`
	// Rating is the reporter's rating of the latest closing, if given.
	Rating        Rating `json:"rating,omitempty"`
	RatingComment string `json:"rating_comment,omitempty"`
}

// RatingOpen reports whether the reporter may rate c at now, and the office
// reopen it: a resident's case, closed, within its rating window.
func (c *Case) RatingOpen(now time.Time) bool {
	p := c.Public
	return c.Status == StatusClosed && p != nil && p.RateBy != nil && now.Before(*p.RateBy)
}

// Live reports whether c still awaits something at now: an open case, or a
// resident's closed case within its rating window.
func (c *Case) Live(now time.Time) bool { return c.Status.Open() || c.RatingOpen(now) }

// PublicOpen is what an open of a resident's report carries, resolved from
// the policy (see Policy.Resolve).
type PublicOpen struct {
	Channel string `json:"channel"`
	// Categories are the categories residents may report; MinPhotos how
	// many photos a report needs; Bounds, when set, where it may be.
	Categories   []string      `json:"categories,omitempty"`
	MinPhotos    int           `json:"min_photos,omitempty"`
	Bounds       *Bounds       `json:"bounds,omitempty"`
	RatingWindow time.Duration `json:"rating_window,omitempty"`
}

// ResidentID returns the id of the resident principal that reports as id:
// "resident:<id>".
func ResidentID(id string) string { return "resident:" + id }

// Resident is the principal of a resident reporting as id.
func Resident(id string) Principal { return Principal{ID: ResidentID(id), Role: RoleResident} }

// NewResidentID draws an id for a reporter duban has not seen before.
func NewResidentID() string { return strings.ReplaceAll(uuid.NewString(), "-", "")[:16] }

// NormalisePhone reads a phone number as residents type it ("138 0013 8000",
// "+86-138-0013-8000"): its digits, without a leading +86. ok is false when
// what is left is not 6 to 15 digits.
func NormalisePhone(s string) (digits string, ok bool) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || (r == '+' && b.Len() == 0):
		default:
			return "", false
		}
	}
	digits = b.String()
	if strings.HasPrefix(strings.TrimSpace(s), "+86") || (len(digits) == 13 && strings.HasPrefix(digits, "86")) {
		digits = strings.TrimPrefix(digits, "86")
	}
	return digits, len(digits) >= 6 && len(digits) <= 15
}

// MaskPhone masks a phone's middle digits as leaderboards print it:
// 138****8000.
func MaskPhone(digits string) string {
	if len(digits) < 8 {
		return strings.Repeat("*", len(digits))
	}
	return digits[:3] + "****" + digits[len(digits)-4:]
}

// PointsRule is the policy's points for residents' reports (积分).
type PointsRule struct {
	Confirmed  int `json:"confirmed"`   // earned by a report the office files
	DailyCap   int `json:"daily_cap"`   // at most, per reporter and day (0: none)
	MonthlyCap int `json:"monthly_cap"` // at most, per reporter and month (0: none)
}

// PointsDue is what a confirm needs to know to award points: the rule and
// what the reporter has earned so far today and this month, in the
// policy's time zone.
type PointsDue struct {
	PointsRule
	Today int `json:"today"`
	Month int `json:"month"`
}

// Earned is what a confirmed report earns: the rule's points, within what
// the caps leave.
func (p PointsDue) Earned() int {
	n := p.Confirmed
	if p.DailyCap > 0 {
		n = min(n, p.DailyCap-p.Today)
	}
	if p.MonthlyCap > 0 {
		n = min(n, p.MonthlyCap-p.Month)
	}
	return max(n, 0)
}

// Confirm (立案): the office finds a resident's report real and files it:
// routed and dispatched as an inspector's open, or merged into an open case
// it duplicates.
type Confirm struct {
	CommandMeta
	Note        string `json:"note,omitempty"`
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Resolved by the application layer: the routed unit (empty when
	// nothing routes the case) and why; the original a duplicate names
	// (nil when there is none); the points the reporter is due.
	Unit     string    `json:"unit,omitempty"`
	Routing  *Routing  `json:"routing,omitempty"`
	Original *CaseRef  `json:"original,omitempty"`
	Points   PointsDue `json:"points"`
}

// Reject (不予立案): the office finds a resident's report not a problem to
// file; the reporter sees the reason.
type Reject struct {
	CommandMeta
	Reason string `json:"reason"`
}

// Rate (回访): the reporter says how the closed case was handled.
type Rate struct {
	CommandMeta
	Rating  Rating `json:"rating"`
	Comment string `json:"comment,omitempty"`
}

// Reopen sends a resident's closed case back to its unit within the rating
// window, with a fresh resolve deadline.
type Reopen struct {
	CommandMeta
	Reason string `json:"reason"`
}

func (Confirm) Name() string { return "confirm" }
func (Reject) Name() string  { return "reject" }
func (Rate) Name() string    { return "rate" }
func (Reopen) Name() string  { return "reopen" }

func (c Confirm) validate() error {
	var errs fieldErrors
	checkText(&errs, "note", c.Note, MaxNote, false)
	checkDuplicateOf(&errs, c.By, c.DuplicateOf, c.Original)
	return errs.err()
}

// checkDuplicateOf checks the case a command names as the one it duplicates.
func checkDuplicateOf(errs *fieldErrors, by Principal, id string, original *CaseRef) {
	if id == "" {
		return
	}
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		errs.add("duplicate_of", "must be a case id")
	} else if original == nil || original.ID != id || !by.CanSeeAssigned(original.Unit) {
		// A case the actor may not see does not exist for it.
		errs.add("duplicate_of", "is not a case")
	}
}

func (c Reject) validate() error {
	var errs fieldErrors
	checkText(&errs, "reason", c.Reason, MaxNote, true)
	return errs.err()
}

func (c Rate) validate() error {
	var errs fieldErrors
	if !c.Rating.Valid() {
		errs.add("rating", "must be satisfied, basically_satisfied or dissatisfied")
	}
	checkText(&errs, "comment", c.Comment, MaxRatingComment, false)
	return errs.err()
}

func (c Reopen) validate() error {
	var errs fieldErrors
	checkText(&errs, "reason", c.Reason, MaxNote, true)
	return errs.err()
}

// check checks what only a resident's report must hold: a
// category residents may report, its photos, a location inside the city.
func (p PublicOpen) check(errs *fieldErrors, cmd OpenCase) {
	if cmd.Category != "" && !slices.Contains(p.Categories, cmd.Category) {
		errs.add("category", "is not a category residents may report%s", choices(p.Categories))
	}
	photos := 0
	for _, e := range cmd.Evidence {
		if e.Kind == "photo" {
			photos++
		}
	}
	if photos < p.MinPhotos {
		errs.add("photo", "needs at least %d photo(s) of the problem", p.MinPhotos)
	}
	switch l := cmd.Location; {
	case l.Lat == 0 && l.Lon == 0: // refused for every open (OpenCase.validate)
	case p.Bounds != nil && !p.Bounds.Contains(l):
		errs.add("location", "is outside the city (%.4f,%.4f to %.4f,%.4f)", p.Bounds.MinLat, p.Bounds.MinLon, p.Bounds.MaxLat, p.Bounds.MaxLon)
	}
	switch {
	case p.Channel == ChannelWeb, strings.HasPrefix(p.Channel, ChannelOpen311+":"):
	default:
		errs.add("channel", "must be web or open311:<client>")
	}
}

// PublicReported is what CaseReported says of a resident's report.
type PublicReported struct {
	Channel             string    `json:"channel"`
	CheckBy             time.Time `json:"check_by"`
	RatingWindowSeconds int64     `json:"rating_window_seconds"`
}

// ReportConfirmed (立案): the office filed the report; routing follows, or,
// for a duplicate, its merging. Points are what the reporter earned.
type ReportConfirmed struct {
	Note        string `json:"note,omitempty"`
	DuplicateOf string `json:"duplicate_of,omitempty"`
	Points      int    `json:"points,omitempty"`
	StageClock
}

// ReportRejected (不予立案): the office did not file the report.
type ReportRejected struct {
	Reason string `json:"reason"`
	StageClock
}

// ReporterRated (回访): the reporter rated the closed case.
type ReporterRated struct {
	Rating  Rating `json:"rating"`
	Comment string `json:"comment,omitempty"`
}

// CaseReopened: the office sent a resident's closed case back to its unit.
type CaseReopened struct {
	Reason      string    `json:"reason"`
	Unit        string    `json:"unit"`
	ReworkCount int       `json:"rework_count"`
	ResolveBy   time.Time `json:"resolve_by"`
	// Rating is the reporter's rating that stood when it was reopened.
	Rating Rating `json:"rating,omitempty"`
}

func (ReportConfirmed) EventType() EventType { return EventReportConfirmed }
func (ReportRejected) EventType() EventType  { return EventReportRejected }
func (ReporterRated) EventType() EventType   { return EventReporterRated }
func (CaseReopened) EventType() EventType    { return EventCaseReopened }

// confirm files a resident's report.
func (d *decision) confirm(cmd Confirm) ([]Event, error) {
	if d.c.Status != StatusReported || d.c.Public == nil {
		return d.refuse("confirm")
	}
	if cmd.DuplicateOf == d.c.ID {
		return nil, Invalid(Field("duplicate_of", "a case cannot be a duplicate of itself"))
	}
	clock := stageClock(d.c, d.now)
	if cmd.DuplicateOf != "" {
		if o := cmd.Original; !o.Status.Open() || o.Status == StatusReported {
			return nil, Errorf(ECONFLICT, "case %s is %s: a report is merged into a filed case that stays open", o.ID, o.Status)
		}
		// A known problem reported again earns nothing: the case it
		// duplicates was filed already.
		d.emit(ReportConfirmed{Note: cmd.Note, DuplicateOf: cmd.DuplicateOf, StageClock: clock})
		d.emitAs(System, CaseCancelled{Reason: "confirmed as a duplicate of " + cmd.DuplicateOf, DuplicateOf: cmd.DuplicateOf, Outcome: OutcomeDuplicate})
		return d.events, nil
	}
	d.emit(ReportConfirmed{Note: cmd.Note, Points: cmd.Points.Earned(), StageClock: clock})
	if cmd.Unit == "" {
		d.emitAs(System, CaseUnrouted{Reason: fmt.Sprintf("no unit is responsible for category %q in this area", d.c.Category), AssignBy: d.assignBy()})
		return d.events, nil
	}
	dispatched := d.dispatch(cmd.Unit, "")
	if cmd.Routing != nil {
		dispatched.Reason, dispatched.Routing = cmd.Routing.Reason(cmd.Unit), cmd.Routing
	}
	d.emitAs(System, dispatched)
	return d.events, nil
}

// reject ends a resident's report unfiled.
func (d *decision) reject(cmd Reject) ([]Event, error) {
	if d.c.Status != StatusReported || d.c.Public == nil {
		return d.refuse("reject")
	}
	d.emit(ReportRejected{Reason: cmd.Reason, StageClock: stageClock(d.c, d.now)})
	return d.events, nil
}

// rate records the reporter's rating of the latest closing, once.
func (d *decision) rate(cmd Rate) ([]Event, error) {
	switch {
	case d.c.Public == nil || d.c.Status != StatusClosed:
		return d.refuse("rate")
	case !d.c.RatingOpen(d.now):
		return nil, Errorf(ECONFLICT, "the rating window ended at %s", d.c.Public.RateBy.Format(time.RFC3339))
	case d.c.Public.Rating != "":
		return nil, Errorf(ECONFLICT, "the case is rated already: %s", d.c.Public.Rating)
	}
	d.emit(ReporterRated{Rating: cmd.Rating, Comment: cmd.Comment})
	return d.events, nil
}

// reopen sends a resident's closed case back to its unit.
func (d *decision) reopen(cmd Reopen) ([]Event, error) {
	switch {
	case d.c.Public == nil || d.c.Status != StatusClosed:
		return d.refuse("reopen")
	case !d.c.RatingOpen(d.now):
		return nil, Errorf(ECONFLICT, "the rating window ended at %s: the case may no longer be reopened", d.c.Public.RateBy.Format(time.RFC3339))
	}
	d.emit(CaseReopened{
		Reason:      cmd.Reason,
		Unit:        d.c.Unit,
		ReworkCount: d.c.ReworkCount + 1,
		ResolveBy:   d.due(d.c.Terms.SLA.Resolve),
		Rating:      d.c.Public.Rating,
	})
	return d.events, nil
}

// evolvePublic folds the events of residents' reports.
func evolvePublic(c Case, e Event) Case {
	switch d := e.Data.(type) {
	case ReportConfirmed:
		p := *c.Public
		p.Points = d.Points
		c.Public = &p
		c.Deadlines.CheckBy = nil
	case ReportRejected:
		p := *c.Public
		p.Rejected = d.Reason
		c.Public = &p
		c.Status = StatusCancelled
		c.Outcome = OutcomeInvalid
		c.Deadlines.CheckBy = nil
	case ReporterRated:
		p := *c.Public
		p.Rating, p.RatingComment = d.Rating, d.Comment
		c.Public = &p
	case CaseReopened:
		p := *c.Public
		p.RateBy, p.Rating, p.RatingComment = nil, "", ""
		c.Public = &p
		c.Status = StatusInProgress
		c.Outcome = ""
		c.ObligationSince = new(e.OccurredAt)
		c.ReworkCount = d.ReworkCount
		c.Deadlines.ResolveBy = new(d.ResolveBy)
		c.Deadlines.VerifyBy = nil
	case CaseClosed:
		if c.Public != nil {
			p := *c.Public
			p.RateBy = new(e.OccurredAt.Add(time.Duration(p.RatingWindowSeconds) * time.Second))
			p.Rating, p.RatingComment = "", ""
			c.Public = &p
		}
	}
	return c
}

// reported is what the open's CaseReported says of a resident's report:
// nil for every other open.
func (p *PublicOpen) reported(d *decision) *PublicReported {
	if p == nil {
		return nil
	}
	return &PublicReported{
		Channel:             p.Channel,
		CheckBy:             d.due(d.c.Terms.SLA.Check),
		RatingWindowSeconds: int64(p.RatingWindow / time.Second),
	}
}

// PointsTally is a reporter's ledger summed: earned today and this month,
// and what is left to redeem.
type PointsTally struct {
	Today   int `json:"today"`
	Month   int `json:"month"`
	Balance int `json:"balance"`
}

// Redemption is points a reporter spent, as the office records it.
type Redemption struct {
	Reporter string    `json:"reporter"`
	Points   int       `json:"points"`
	Note     string    `json:"note"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

// Within refuses (ECONFLICT) a redemption beyond the reporter's balance.
func (r Redemption) Within(balance int) error {
	if r.Points > balance {
		return Errorf(ECONFLICT, "the reporter has %d points: %d cannot be redeemed", balance, r.Points)
	}
	return nil
}

// Leader is a reporter on the monthly leaderboard: the phone masked.
type Leader struct {
	Rank    int    `json:"rank"`
	Masked  string `json:"reporter"`
	Points  int    `json:"points"`
	Reports int    `json:"reports"`
}

// Earned returns the points an event earned its case's reporter: a
// confirmed report's.
func (e Event) Earned() int {
	if d, ok := e.Data.(ReportConfirmed); ok {
		return d.Points
	}
	return 0
}

// What the check of a resident's report offers to merge it into: the open
// cases of its category within NearbyMeters of it, opened in the
// NearbyWithin before it.
const (
	NearbyMeters = 100
	NearbyWithin = 7 * 24 * time.Hour
)

// Near reports whether a case of the report's category at loc, opened at
// openedAt and now in status, is one the report may be merged into.
func (c *Case) Near(status Status, loc Location, openedAt time.Time) bool {
	return status.Open() && status != StatusReported && !openedAt.Before(c.OpenedAt.Add(-NearbyWithin)) &&
		Distance(c.Location, loc) <= NearbyMeters
}

// Distance is the distance between a and b in metres, on a sphere of the
// Earth's mean radius (haversine): within a city, right to a metre.
func Distance(a, b Location) float64 {
	const r = 6371008.8
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Sqrt(min(h, 1)))
}
