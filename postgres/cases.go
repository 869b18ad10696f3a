package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
)

// projectionColumns are the columns of a cases row, in the order
// projectionRow gives their values.
var projectionColumns = []string{"id", "version", "status", "category", "severity", "unit", "area", "reporter",
	"opened_at", "updated_at", "stage", "stage_deadline", "warn_at", "escalate_at", "duplicate_of", "doc"}

// projectionRow is a case as its projection row: the whole case as doc, and
// the columns lists filter and sort on, among them the running stage's
// deadline and the due times of its warning and escalation levels.
func projectionRow(c duban.Case) ([]any, error) {
	doc, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var stage *string
	var deadline, warnAt *time.Time
	escalateAt := []time.Time{}
	if s, dl, ok := c.RunningStage(); ok {
		stage, deadline = ptr(string(s)), &dl
		ladder := c.Ladder()
		slices.SortFunc(ladder, func(a, b duban.Step) int { return a.Level - b.Level })
		for _, step := range ladder {
			if step.Level == 0 {
				warnAt = ptr(step.At)
			} else {
				escalateAt = append(escalateAt, step.At)
			}
		}
	}
	return []any{c.ID, c.Version, c.Status, c.Category, c.Severity, nullable(c.Unit), nullable(c.Location.Area), c.Reporter,
		c.OpenedAt, c.UpdatedAt, stage, deadline, warnAt, escalateAt, nullable(c.DuplicateOf), doc}, nil
}

// upsertCase writes a projection row, unless the row already holds a later
// version.
var upsertCase = func() string {
	params := make([]string, len(projectionColumns))
	var updates []string
	for i, col := range projectionColumns {
		params[i] = "$" + strconv.Itoa(i+1)
		if col != "id" && col != "reporter" && col != "opened_at" {
			updates = append(updates, col+" = excluded."+col)
		}
	}
	return "INSERT INTO cases (" + strings.Join(projectionColumns, ", ") + ") VALUES (" + strings.Join(params, ", ") +
		") ON CONFLICT (id) DO UPDATE SET " + strings.Join(updates, ", ") + " WHERE cases.version < excluded.version"
}()

func ptr[T any](v T) *T { return &v }

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

// Row is a case as the projection holds it: the case, and what other cases'
// events say of it.
type Row struct {
	duban.Case
	// Duplicates are the cases cancelled as duplicates of this one.
	Duplicates []string
}

// rowColumns are what every read selects, in the order scanRow reads them.
const rowColumns = "doc, duplicates::text[]"

func scanRow(rows pgx.CollectableRow) (Row, error) {
	var doc []byte
	var r Row
	if err := rows.Scan(&doc, &r.Duplicates); err != nil {
		return Row{}, err
	}
	if err := json.Unmarshal(doc, &r.Case); err != nil {
		return Row{}, fmt.Errorf("decode case: %w", err)
	}
	if len(r.Duplicates) == 0 {
		r.Duplicates = nil
	}
	return r, nil
}

// Case returns the case with id; ENOTFOUND when there is none.
func (s *Store) Case(ctx context.Context, id string) (Row, error) {
	if !validID(id) {
		return Row{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+rowColumns+` FROM cases WHERE id = $1`, id)
	if err != nil {
		return Row{}, err
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return Row{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	return r, err
}

// Cases lists the cases matching f, newest opened first, and the cursor of
// the next page (nil on the last page).
func (s *Store) Cases(ctx context.Context, f duban.CaseFilter) ([]Row, *duban.CaseCursor, error) {
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
		where = append(where, "(opened_at, id) < ("+arg(f.After.OpenedAt)+", "+arg(f.After.ID)+")")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	sql := "SELECT " + rowColumns + " FROM cases"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY opened_at DESC, id DESC LIMIT " + arg(limit+1)
	cases, err := s.queryCases(ctx, sql, args...)
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
// the highest escalation level first, then the longest overdue.
func (s *Store) Escalations(ctx context.Context, now time.Time, limit int) ([]Row, error) {
	return s.queryCases(ctx, `SELECT `+rowColumns+` FROM cases WHERE stage_deadline <= $1
		ORDER BY (SELECT count(*) FROM unnest(escalate_at) AS due WHERE due <= $1) DESC, stage_deadline, id
		LIMIT $2`, now, limit)
}

func (s *Store) queryCases(ctx context.Context, sql string, args ...any) ([]Row, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanRow)
}
