package duban

import (
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what people may write into a case.
const (
	MaxDescription = 2000 // runes
	MaxNote        = 2000 // runes, for resolution and verification notes
	MaxComment     = 2000 // runes
	MaxAddress     = 300  // runes
	MaxArea        = 100  // runes
	MaxEvidence    = 10   // items per command
	MaxURL         = 2048 // bytes
)

// AttachmentID reports whether id is an attachment's id: "sha256:" and the
// content's SHA-256 in lower-case hex.
func AttachmentID(id string) bool {
	hex, ok := strings.CutPrefix(id, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Attachments returns the attachments evidence refers to.
func Attachments(evidence []Evidence) []string {
	var ids []string
	for _, e := range evidence {
		if e.Attachment != "" {
			ids = append(ids, e.Attachment)
		}
	}
	return ids
}

// EvidenceKinds are the kinds of evidence a case accepts.
var EvidenceKinds = []string{"photo", "video", "audio", "document"}

// Command is a request to change a case. Decide turns a command into events or
// refuses it; nothing else decides a transition.
type Command interface {
	// Name is the command's name on the wire and in the workflow.
	Name() string
	// Meta returns who asks and on which version.
	Meta() CommandMeta
	// validate checks the command's own fields, independent of the case.
	validate() error
}

// CommandMeta is what every command carries besides its own fields.
type CommandMeta struct {
	By Principal `json:"by"`
	// IfMatch, when not zero, is the version the caller saw: the command is
	// refused (EPRECONDITION) if the case has moved on since.
	IfMatch int64 `json:"if_match,omitempty"`
}

// Meta returns m; it makes every command embedding CommandMeta a Command.
func (m CommandMeta) Meta() CommandMeta { return m }

// Commands carry every fact their decision needs, so that Decide stays pure
// and is the only thing that refuses a command. The caller resolves them
// once, before deciding: from the policy with Policy.Resolve (an open's
// terms, routing and defaults, the units an assignment may name), from the
// store for what other cases say (a duplicate's original). A command whose
// facts are missing is refused, as if they said no.

// OpenCase opens a case.
type OpenCase struct {
	CommandMeta
	CaseID string `json:"case_id"`
	// Number is the case number people say on the phone (2026-000123),
	// drawn by the application layer from the store's sequence of the
	// year; empty for opens recorded before numbers existed.
	Number      string     `json:"number,omitempty"`
	Category    string     `json:"category"`
	Severity    Severity   `json:"severity"`
	Description string     `json:"description"`
	Location    Location   `json:"location"`
	Evidence    []Evidence `json:"evidence,omitempty"`
	// Stored lists the attachments of Evidence the blob store holds: a fact
	// the application layer gives (an event refers to a blob only once the
	// blob is stored).
	Stored []string `json:"stored,omitempty"`

	// Resolved from the policy. Unit is the routed unit, empty when
	// nothing routes the case. Terms are the category's for the severity,
	// zero when the policy has no such category. Categories are the
	// policy's category codes, for the answer to an unknown one.
	Unit    string   `json:"unit,omitempty"`
	Routing *Routing `json:"routing,omitempty"`
	// RouteReason is how opens recorded before Routing said why, kept for
	// their workflows' histories.
	RouteReason   string   `json:"route_reason,omitempty"`
	Terms         Terms    `json:"terms"`
	PolicyVersion string   `json:"policy_version,omitempty"`
	Categories    []string `json:"categories,omitempty"`
	// Areas are the policy's areas: an area given must be one of them.
	// None: the policy lists no areas, and an area is free text.
	Areas []string `json:"areas,omitempty"`
	// RequestHash fingerprints the request, so that a retried open can be
	// told from another one under the same Idempotency-Key.
	RequestHash string `json:"request_hash,omitempty"`
	// Finding is the failed item of a site inspection the case is opened
	// for; nil for every other open.
	Finding *Finding `json:"finding,omitempty"`
	// Public is a resident's report (随手拍, Open311), by a resident
	// principal: it waits in reported for the office's check. Nil for
	// every other open.
	Public *PublicOpen `json:"public,omitempty"`
}

// Acknowledge: the assigned unit takes the case on.
type Acknowledge struct {
	CommandMeta
}

// Resolve: the assigned unit reports the problem fixed.
type Resolve struct {
	CommandMeta
	Note     string     `json:"note"`
	Evidence []Evidence `json:"evidence,omitempty"`
	Stored   []string   `json:"stored,omitempty"` // as OpenCase's
}

// Verify: an inspector checks a resolved case; passing closes it, failing
// sends it back to the unit.
type Verify struct {
	CommandMeta
	Passed   bool       `json:"passed"`
	Note     string     `json:"note,omitempty"`
	Evidence []Evidence `json:"evidence,omitempty"`
	Stored   []string   `json:"stored,omitempty"` // as OpenCase's
}

// AddComment: anyone with access writes a note on an open case.
type AddComment struct {
	CommandMeta
	Text string `json:"text"`
}

// Dispute: the assigned unit says the case is not theirs. It leaves the
// unit's view and waits for a supervisor to assign it.
type Dispute struct {
	CommandMeta
	Reason string `json:"reason"`
}

// Assign sends the case to a unit, with fresh deadlines: an unrouted or
// disputed case, or a reassignment of an open one.
type Assign struct {
	CommandMeta
	Unit   string `json:"unit"`
	Reason string `json:"reason,omitempty"`
	// Units are the ids of the policy's units, resolved from the policy:
	// Unit must be one of them.
	Units []string `json:"units,omitempty"`
}

// RequestExtension: the assigned unit asks to resolve by Until instead.
type RequestExtension struct {
	CommandMeta
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// DecideExtension: a supervisor approves or refuses extension request N.
type DecideExtension struct {
	CommandMeta
	N        int    `json:"n"`
	Approved bool   `json:"approved"`
	Note     string `json:"note,omitempty"`
}

// Urge (催办): a supervisor presses the unit; the unit is notified.
type Urge struct {
	CommandMeta
	Note string `json:"note"`
}

// Cancel ends an open case. DuplicateOf merges a duplicate report into the
// case that stays open.
type Cancel struct {
	CommandMeta
	Reason      string `json:"reason"`
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Outcome is invalid (the default), duplicate (the default with
	// DuplicateOf, which it needs) or no_further_action.
	Outcome Outcome `json:"outcome,omitempty"`
	// Original is the case DuplicateOf names, as the store holds it: nil
	// when there is none.
	Original *CaseRef `json:"original,omitempty"`
}

// CaseRef is what a decision on one case needs to know of another: whether
// it exists, who may see it and whether it is still open.
type CaseRef struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	Unit   string `json:"unit,omitempty"`
}

// Ref returns what a decision on another case needs to know of c.
func (c *Case) Ref() *CaseRef { return &CaseRef{ID: c.ID, Status: c.Status, Unit: c.Unit} }

// outcome is the outcome the cancellation gives: as asked, or by default.
func (c Cancel) outcome() Outcome {
	switch {
	case c.Outcome != "":
		return c.Outcome
	case c.DuplicateOf != "":
		return OutcomeDuplicate
	}
	return OutcomeInvalid
}

// Suspend (挂起) stops every deadline clock, until Resume or Until.
type Suspend struct {
	CommandMeta
	Reason string     `json:"reason"`
	Until  *time.Time `json:"until,omitempty"`
}

// Resume restarts the clocks of a suspended case; its deadlines move on by
// the working time it was suspended.
type Resume struct {
	CommandMeta
	Note string `json:"note,omitempty"`
}

// List hangs a plate on an open case (挂牌督办): it leads the board.
type List struct {
	CommandMeta
	Reason string `json:"reason"`
}

// Delist takes the plate down.
type Delist struct {
	CommandMeta
	Reason string `json:"reason,omitempty"`
}

// Tick asks the case to do what has come due with no one asking: record
// the ladder steps of the running stage, or end a suspension at its Until.
// The workflow's timers send it as the system.
type Tick struct {
	CommandMeta
}

// Names of commands.
func (OpenCase) Name() string         { return "open" }
func (Acknowledge) Name() string      { return "acknowledge" }
func (Resolve) Name() string          { return "resolve" }
func (Verify) Name() string           { return "verify" }
func (AddComment) Name() string       { return "comment" }
func (Dispute) Name() string          { return "dispute" }
func (Assign) Name() string           { return "assign" }
func (RequestExtension) Name() string { return "request_extension" }
func (DecideExtension) Name() string  { return "decide_extension" }
func (Urge) Name() string             { return "urge" }
func (Cancel) Name() string           { return "cancel" }
func (Suspend) Name() string          { return "suspend" }
func (Resume) Name() string           { return "resume" }
func (Tick) Name() string             { return "tick" }
func (List) Name() string             { return "list" }
func (Delist) Name() string           { return "delist" }

func (c OpenCase) validate() error {
	var errs fieldErrors
	if c.CaseID == "" {
		errs.add("id", "is required")
	}
	noTerms := c.Terms.SLA.Acknowledge <= 0 || c.Terms.SLA.Resolve <= 0 || c.Terms.SLA.Verify <= 0
	switch {
	case c.Category == "":
		errs.add("category", "is required")
	case c.Categories != nil && !slices.Contains(c.Categories, c.Category), c.Severity.Valid() && noTerms:
		// A category the policy has no terms for is unknown to it; with
		// the policy's categories at hand, also when the severity is wrong.
		errs.add("category", "is not a known category%s", choices(c.Categories))
	}
	if !c.Severity.Valid() {
		errs.add("severity", "must be normal or urgent")
	}
	checkText(&errs, "description", c.Description, MaxDescription, true)
	// A case is somewhere: 0,0 (in the Gulf of Guinea) is a location left
	// out, whichever door the open came through.
	if c.Location.Lat == 0 && c.Location.Lon == 0 {
		errs.add("location", "is required: where the problem is")
	}
	checkLocation(&errs, c.Location)
	if a := c.Location.Area; a != "" && len(c.Areas) > 0 && !slices.Contains(c.Areas, a) {
		errs.add("location.area", "is not a known area%s", choices(c.Areas))
	}
	checkEvidence(&errs, "evidence", c.Evidence, c.Stored)
	if f := c.Finding; f != nil && (f.Site == "" || f.Item == "" || f.Round == "") {
		errs.add("finding", "must name its site, item and round")
	}
	if c.Public != nil {
		c.Public.check(&errs, c)
	}
	return errs.err()
}

func (Acknowledge) validate() error { return nil }

func (c List) validate() error {
	var errs fieldErrors
	checkText(&errs, "reason", c.Reason, MaxNote, true)
	return errs.err()
}

func (c Delist) validate() error {
	var errs fieldErrors
	checkText(&errs, "reason", c.Reason, MaxNote, false)
	return errs.err()
}

func (c Resolve) validate() error {
	var errs fieldErrors
	checkText(&errs, "note", c.Note, MaxNote, true)
	checkEvidence(&errs, "evidence", c.Evidence, c.Stored)
	return errs.err()
}

func (c Verify) validate() error {
	var errs fieldErrors
	// A failed verification must say what is still wrong.
	checkText(&errs, "note", c.Note, MaxNote, !c.Passed)
	checkEvidence(&errs, "evidence", c.Evidence, c.Stored)
	return errs.err()
}

func (c AddComment) validate() error {
	var errs fieldErrors
	checkText(&errs, "text", c.Text, MaxComment, true)
	return errs.err()
}

func (c Dispute) validate() error {
	var errs fieldErrors
	checkText(&errs, "reason", c.Reason, MaxNote, true)
	return errs.err()
}

func (c Assign) validate() error {
	var errs fieldErrors
	if !slices.Contains(c.Units, c.Unit) {
		errs.add("unit", "is not a unit of the policy%s", choices(c.Units))
	}
	checkText(&errs, "reason", c.Reason, MaxNote, false)
	return errs.err()
}

func (c RequestExtension) validate() error {
	var errs fieldErrors
	if c.Until.IsZero() {
		errs.add("until", "is required: the new resolve deadline, RFC 3339")
	}
	checkText(&errs, "reason", c.Reason, MaxNote, true)
	return errs.err()
}

func (c DecideExtension) validate() error {
	var errs fieldErrors
	if c.N < 1 {
		errs.add("n", "must be 1 or more")
	}
	checkText(&errs, "note", c.Note, MaxNote, false)
	return errs.err()
}

func (c Urge) validate() error {
	var errs fieldErrors
	checkText(&errs, "note", c.Note, MaxNote, true)
	return errs.err()
}

func (c Cancel) validate() error {
	var errs fieldErrors
	checkText(&errs, "reason", c.Reason, MaxNote, true)
	switch o := c.outcome(); {
	case !slices.Contains(cancelOutcomes, o):
		errs.add("outcome", "must be invalid, duplicate or no_further_action")
	case o == OutcomeDuplicate && c.DuplicateOf == "":
		errs.add("duplicate_of", "is required for a duplicate: the case it duplicates")
	case o != OutcomeDuplicate && c.DuplicateOf != "":
		errs.add("outcome", "must be duplicate when duplicate_of is given")
	}
	checkDuplicateOf(&errs, c.By, c.DuplicateOf, c.Original)
	return errs.err()
}

func (c Suspend) validate() error {
	var errs fieldErrors
	checkText(&errs, "reason", c.Reason, MaxNote, true)
	if c.Until != nil && c.Until.IsZero() {
		errs.add("until", "must be a time, RFC 3339")
	}
	return errs.err()
}

func (c Resume) validate() error {
	var errs fieldErrors
	checkText(&errs, "note", c.Note, MaxNote, false)
	return errs.err()
}

func (Tick) validate() error { return nil }

// choices lists what a field may be, for its message: ": a, b, c".
func choices(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ": " + strings.Join(ids, ", ")
}

// checkText checks a free-text field: valid UTF-8, within max runes, not
// blank when required, no control characters other than line breaks and tabs.
func checkText(errs *fieldErrors, field, s string, max int, required bool) {
	switch {
	case !utf8.ValidString(s):
		errs.add(field, "is not valid UTF-8")
	case required && strings.TrimSpace(s) == "":
		errs.add(field, "is required")
	case utf8.RuneCountInString(s) > max:
		errs.add(field, "is too long: at most %d characters", max)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f }):
		errs.add(field, "contains control characters")
	}
}

func checkLocation(errs *fieldErrors, l Location) {
	if l.Lat < -90 || l.Lat > 90 {
		errs.add("location.lat", "must be between -90 and 90")
	}
	if l.Lon < -180 || l.Lon > 180 {
		errs.add("location.lon", "must be between -180 and 180")
	}
	checkText(errs, "location.address", l.Address, MaxAddress, false)
	checkText(errs, "location.area", l.Area, MaxArea, false)
}

// checkEvidence checks evidence items: each a URL or an attachment the
// blob store holds (stored).
func checkEvidence(errs *fieldErrors, field string, ev []Evidence, stored []string) {
	if len(ev) > MaxEvidence {
		errs.add(field, "has too many items: at most %d", MaxEvidence)
		return
	}
	for i, e := range ev {
		f := fieldIndex(field, i)
		switch {
		case e.URL != "" && e.Attachment != "":
			errs.add(f, "is a url or an attachment, not both")
		case e.Attachment != "":
			if !AttachmentID(e.Attachment) {
				errs.add(f+".attachment", "must be an attachment's id, sha256:<64 hex digits>")
			} else if !slices.Contains(stored, e.Attachment) {
				errs.add(f+".attachment", "is not stored: upload it first (POST /v1/attachments)")
			}
		default:
			if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				errs.add(f+".url", "must be an http or https URL")
			} else if len(e.URL) > MaxURL {
				errs.add(f+".url", "is too long: at most %d bytes", MaxURL)
			}
		}
		if !slices.Contains(EvidenceKinds, e.Kind) {
			errs.add(f+".kind", "must be one of %s", strings.Join(EvidenceKinds, ", "))
		}
	}
}
