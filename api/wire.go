package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/postgres"
)

// caseJSON is a case on the wire, as SPEC.md shows it. overdue and
// escalation_level are read against the clock at the time of the answer.
type caseJSON struct {
	ID              string           `json:"id"`
	Status          duban.Status     `json:"status"`
	Category        string           `json:"category"`
	Severity        duban.Severity   `json:"severity"`
	Description     string           `json:"description"`
	Location        duban.Location   `json:"location"`
	Evidence        []duban.Evidence `json:"evidence"`
	Unit            *string          `json:"unit"`
	Reporter        string           `json:"reporter"`
	OpenedAt        time.Time        `json:"opened_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
	Version         int64            `json:"version"`
	Deadlines       duban.Deadlines  `json:"deadlines"`
	Stage           *duban.Stage     `json:"stage"`
	Overdue         bool             `json:"overdue"`
	EscalationLevel int              `json:"escalation_level"`
	ReworkCount     int              `json:"rework_count"`
	PolicyVersion   string           `json:"policy_version,omitempty"`

	// What applies only to some cases is left out until it does.
	Dispute     *duban.UnitDispute `json:"dispute,omitempty"`
	Extensions  []extensionJSON    `json:"extensions,omitempty"`
	UrgeCount   int                `json:"urge_count,omitempty"`
	LastUrgedAt *time.Time         `json:"last_urged_at,omitempty"`
	DuplicateOf string             `json:"duplicate_of,omitempty"`
	Duplicates  []string           `json:"duplicates,omitempty"`
	Suspension  *suspensionJSON    `json:"suspension,omitempty"`
}

type extensionJSON struct {
	N         int       `json:"n"`
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"`
	Status    string    `json:"status"`
	DecidedBy string    `json:"decided_by,omitempty"`
	Note      string    `json:"note,omitempty"`
}

type suspensionJSON struct {
	Since  time.Time  `json:"since"`
	Until  *time.Time `json:"until"`
	Reason string     `json:"reason"`
}

func toJSON(row postgres.Row, now time.Time) caseJSON {
	c := row.Case
	out := caseJSON{
		ID: c.ID, Status: c.Status, Category: c.Category, Severity: c.Severity,
		Description: c.Description, Location: c.Location, Evidence: c.Evidence,
		Reporter: c.Reporter, OpenedAt: c.OpenedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
		Deadlines: c.Deadlines, Overdue: c.OverdueAt(now), EscalationLevel: c.EscalationLevelAt(now),
		ReworkCount: c.ReworkCount, PolicyVersion: c.PolicyVersion,
		Dispute: c.Dispute, UrgeCount: c.UrgeCount, LastUrgedAt: c.LastUrgedAt, DuplicateOf: c.DuplicateOf,
		Duplicates: row.Duplicates,
	}
	for _, x := range c.Extensions {
		out.Extensions = append(out.Extensions, extensionJSON{N: x.N, Until: x.Until, Reason: x.Reason, Status: x.Status, DecidedBy: x.DecidedBy, Note: x.Note})
	}
	if p := c.Suspension; p != nil {
		out.Suspension = &suspensionJSON{Since: p.Since, Until: p.Until, Reason: p.Reason}
	}
	if out.Evidence == nil {
		out.Evidence = []duban.Evidence{}
	}
	if c.Unit != "" {
		out.Unit = &c.Unit
	}
	if stage, _, ok := c.RunningStage(); ok {
		out.Stage = &stage
	}
	return out
}

// replyCase answers with one case and its version as ETag.
func (s *Server) replyCase(w http.ResponseWriter, status int, row postgres.Row) {
	w.Header().Set("ETag", etag(row.Version))
	reply(w, status, toJSON(row, s.Now()))
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// page is a page of a list: next_cursor is null on the last page.
type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// items is a list answered whole.
type items[T any] struct {
	Items []T `json:"items"`
}

// caseList shapes cases for the wire.
func (s *Server) caseList(rows []postgres.Row) []caseJSON {
	now := s.Now()
	items := make([]caseJSON, len(rows))
	for i, row := range rows {
		items[i] = toJSON(row, now)
	}
	return items
}

// encodeCursor makes a list position opaque to clients.
func encodeCursor(c duban.CaseCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*duban.CaseCursor, error) {
	invalid := duban.Invalid(duban.FieldError{Field: "cursor", Message: "is not a cursor this API gave out"})
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 256 {
		return nil, invalid
	}
	var c duban.CaseCursor
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" || c.OpenedAt.IsZero() {
		return nil, invalid
	}
	c.OpenedAt = c.OpenedAt.UTC()
	return &c, nil
}
