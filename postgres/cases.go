package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// projectionColumns are the columns of a cases row, in the order
// projectionRow gives their values.
var projectionColumns = []string{"id", "version", "status", "category", "severity", "unit", "area", "reporter",
	"opened_at", "updated_at", "stage_deadline", "escalate_at", "escalation_level", "duplicate_of", "doc", "view"}

// projectionRow is a case as its projection row: the whole case as doc, its
// view ready to send, its clock (the running stage's deadline, the due
// times of its escalation levels, the level recorded), and the columns
// lists filter and sort on.
func projectionRow(c duban.Case) ([]any, error) {
	doc, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	view, err := json.Marshal(c.View())
	if err != nil {
		return nil, err
	}
	clock := c.Clock()
	escalateAt := clock.Levels
	if escalateAt == nil {
		escalateAt = []time.Time{}
	}
	return []any{c.ID, c.Version, c.Status, c.Category, c.Severity, nullable(c.Unit), nullable(c.Location.Area), c.Reporter,
		c.OpenedAt, c.UpdatedAt, clock.Deadline, escalateAt, clock.Recorded, nullable(c.DuplicateOf), doc, string(view)}, nil
}

// upsertCase writes a projection row, unless the row already holds a later
// version.
var upsertCase = func() string {
	params := make([]string, len(projectionColumns))
	for i := range projectionColumns {
		params[i] = "$" + strconv.Itoa(i+1)
	}
	return "INSERT INTO cases (" + strings.Join(projectionColumns, ", ") + ") VALUES (" + strings.Join(params, ", ") +
		") ON CONFLICT (id) DO UPDATE SET " + excludedAssignments() + " WHERE cases.version < excluded.version"
}()

// excludedAssignments sets a projection row's columns, but those a case
// never changes, from an upsert's excluded row.
func excludedAssignments() string {
	var updates []string
	for _, col := range projectionColumns {
		if col != "id" && col != "reporter" && col != "opened_at" {
			updates = append(updates, col+" = excluded."+col)
		}
	}
	return strings.Join(updates, ", ")
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// validID reports whether id can name a case; anything else cannot exist.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// rowColumns are what every read selects, in the order scanRow reads them.
const rowColumns = "doc, duplicates::text[]"

func scanRow(rows pgx.CollectableRow) (app.Row, error) {
	var doc []byte
	var r app.Row
	if err := rows.Scan(&doc, &r.Duplicates); err != nil {
		return app.Row{}, err
	}
	if err := json.Unmarshal(doc, &r.Case); err != nil {
		return app.Row{}, fmt.Errorf("decode case: %w", err)
	}
	if len(r.Duplicates) == 0 {
		r.Duplicates = nil
	}
	return r, nil
}

// listedColumns are what reads of app.Listed select, in the order scanListed
// reads them; doc only for a row stored without a view.
const listedColumns = `id::text, coalesce(unit, ''), opened_at, version, view, stage_deadline, escalate_at,
	escalation_level, duplicates::text[], CASE WHEN view IS NULL THEN doc END`

func scanListed(rows pgx.CollectableRow) (app.Listed, error) {
	var l app.Listed
	var doc []byte
	if err := rows.Scan(&l.ID, &l.Unit, &l.OpenedAt, &l.Version, &l.View, &l.Clock.Deadline, &l.Clock.Levels,
		&l.Clock.Recorded, &l.Duplicates, &doc); err != nil {
		return app.Listed{}, err
	}
	if l.View == nil {
		var c duban.Case
		if err := json.Unmarshal(doc, &c); err != nil {
			return app.Listed{}, fmt.Errorf("decode case: %w", err)
		}
		v, err := json.Marshal(c.View())
		if err != nil {
			return app.Listed{}, err
		}
		l.View = v
	}
	if len(l.Clock.Levels) == 0 {
		l.Clock.Levels = nil
	}
	if len(l.Duplicates) == 0 {
		l.Duplicates = nil
	}
	return l, nil
}

// Listing returns the case with id as reads send it; ENOTFOUND when there
// is none.
func (s *Store) Listing(ctx context.Context, id string) (app.Listed, error) {
	if !validID(id) {
		return app.Listed{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+listedColumns+` FROM cases WHERE id = $1`, id)
	if err != nil {
		return app.Listed{}, err
	}
	l, err := pgx.CollectExactlyOneRow(rows, scanListed)
	if errors.Is(err, pgx.ErrNoRows) {
		return app.Listed{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	return l, err
}

// Case returns the case with id, whole; ENOTFOUND when there is none.
func (s *Store) Case(ctx context.Context, id string) (app.Row, error) {
	if !validID(id) {
		return app.Row{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+rowColumns+` FROM cases WHERE id = $1`, id)
	if err != nil {
		return app.Row{}, err
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return app.Row{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	return r, err
}

// Cases lists the cases matching f, newest opened first, and the cursor of
// the next page (nil on the last page).
func (s *Store) Cases(ctx context.Context, f duban.CaseFilter) ([]app.Listed, *duban.CaseCursor, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		where = append(where, "status = ANY("+arg(statuses)+")")
	}
	for _, eq := range []struct{ col, val string }{
		{"unit", f.Unit}, {"category", f.Category}, {"severity", string(f.Severity)}, {"area", f.Area},
	} {
		if eq.val != "" {
			where = append(where, eq.col+" = "+arg(eq.val))
		}
	}
	if f.Overdue != nil {
		if *f.Overdue {
			where = append(where, "stage_deadline <= "+arg(f.Now))
		} else {
			where = append(where, "(stage_deadline IS NULL OR stage_deadline > "+arg(f.Now)+")")
		}
	}
	if f.Escalated != nil {
		if *f.Escalated {
			where = append(where, "escalate_at[1] <= "+arg(f.Now))
		} else {
			where = append(where, "(stage_deadline IS NULL OR escalate_at[1] IS NULL OR escalate_at[1] > "+arg(f.Now)+")")
		}
	}
	if f.After != nil {
		where = append(where, "(cases.opened_at, cases.id) < ("+arg(f.After.OpenedAt)+", "+arg(f.After.ID)+"::uuid)")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	sql := "SELECT " + listedColumns + " FROM cases"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	// Qualified: the select list's id::text would otherwise be what id means here.
	sql += " ORDER BY cases.opened_at DESC, cases.id DESC LIMIT " + arg(limit+1)
	cases, err := s.queryListed(ctx, sql, args...)
	if err != nil {
		return nil, nil, err
	}
	if len(cases) <= limit {
		return cases, nil, nil
	}
	cases = cases[:limit]
	last := cases[limit-1]
	return cases, &duban.CaseCursor{OpenedAt: last.OpenedAt, ID: last.ID}, nil
}

// Escalations returns the open cases whose running stage is overdue at now,
// the highest escalation level first (duban.Clock.Level: escalate_at never
// decreases, so width_bucket counts the levels reached), then the longest
// overdue. It ranks on the cases_clock index's columns alone and reads the
// rows of the first page only.
func (s *Store) Escalations(ctx context.Context, now time.Time, limit int) ([]app.Listed, error) {
	return s.queryListed(ctx, `SELECT `+listedColumns+` FROM (
			SELECT id, greatest(escalation_level, width_bucket($1::timestamptz, escalate_at)) AS level, stage_deadline AS deadline
			FROM cases WHERE stage_deadline <= $1 ORDER BY level DESC, deadline, id LIMIT $2
		) AS ranked JOIN cases USING (id)
		ORDER BY ranked.level DESC, ranked.deadline, id`, now, limit)
}

func (s *Store) queryListed(ctx context.Context, sql string, args ...any) ([]app.Listed, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanListed)
}
