package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// projectionColumns are the columns of a cases row, in the order
// projectionRow gives their values.
var projectionColumns = []string{"id", "version", "status", "category", "severity", "unit", "area", "reporter",
	"opened_at", "updated_at", "stage_deadline", "escalate_at", "escalation_level", "duplicate_of", "doc", "view", "number",
	"site", "item", "listed", "calendar", "lat", "lon"}

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
	var site, item *string
	if f := c.Found; f != nil {
		site, item = &f.Site, &f.Item
	}
	var calendar []byte // while a stage runs: see Clock.Late
	if clock.Deadline != nil {
		if calendar, err = json.Marshal(clock.Calendar); err != nil {
			return nil, err
		}
	}
	var lat, lon *float64 // while the case is open: see Plotted
	if c.Status.Open() {
		lat, lon = &c.Location.Lat, &c.Location.Lon
	}
	return []any{c.ID, c.Version, c.Status, c.Category, c.Severity, nullable(c.Unit), nullable(c.Location.Area), c.Reporter,
		c.OpenedAt, c.UpdatedAt, clock.Deadline, escalateAt, clock.Recorded, nullable(c.DuplicateOf), doc, string(view), nullable(c.Number),
		site, item, c.Listed, calendar, lat, lon}, nil
}

// upsertCase writes a projection row, unless the row already holds a later
// version.
var upsertCase = insertInto("cases", projectionColumns) +
	" ON CONFLICT (id) DO UPDATE SET " + excludedAssignments() + " WHERE cases.version < excluded.version"

// excludedAssignments sets a projection row's columns, but those a case
// never changes, from an upsert's excluded row.
func excludedAssignments() string {
	var updates []string
	for _, col := range projectionColumns {
		if col != "id" && col != "reporter" && col != "opened_at" && col != "number" {
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
	escalation_level, calendar, nullif(duplicates, '{}')::text[], CASE WHEN view IS NULL THEN doc END`

func scanListed(row pgx.CollectableRow) (app.Listed, error) { return newListedRow().scan(row) }

// listedRow scans rows selected with listedColumns, and what follows them
// into more, into destinations made once per query: a page of a list is
// not a slice of pointers and a Listed on the heap for each of its rows.
type listedRow struct {
	l        app.Listed
	calendar []byte
	doc      []byte
	dest     []any
}

func newListedRow(more ...any) *listedRow {
	r := &listedRow{}
	r.dest = append([]any{&r.l.ID, &r.l.Unit, &r.l.OpenedAt, &r.l.Version, &r.l.View, &r.l.Clock.Deadline, &r.l.Clock.Levels,
		&r.l.Clock.Recorded, &r.calendar, &r.l.Duplicates, &r.doc}, more...)
	return r
}

func (r *listedRow) scan(row pgx.CollectableRow) (app.Listed, error) {
	r.l, r.doc, r.calendar = app.Listed{}, nil, nil // each row's slices its own
	if err := row.Scan(r.dest...); err != nil {
		return app.Listed{}, err
	}
	l := r.l
	if err := finishClock(&l.Clock, r.calendar); err != nil {
		return app.Listed{}, fmt.Errorf("case %s: %w", l.ID, err)
	}
	if l.View == nil {
		var c duban.Case
		if err := json.Unmarshal(r.doc, &c); err != nil {
			return app.Listed{}, fmt.Errorf("decode case: %w", err)
		}
		v, err := json.Marshal(c.View())
		if err != nil {
			return app.Listed{}, err
		}
		l.View = v
	}
	return l, nil
}

// finishClock completes a clock scanned from a row's clock columns: no
// levels is nil, as duban.Case.Clock gives it, and the calendar column
// (NULL while no stage runs) decoded.
func finishClock(k *duban.Clock, calendar []byte) error {
	if len(k.Levels) == 0 {
		k.Levels = nil
	}
	if calendar == nil {
		return nil
	}
	var err error
	if k.Calendar, err = calendars.decode(calendar); err != nil {
		return fmt.Errorf("decode the calendar: %w", err)
	}
	return nil
}

// collectListed reads every row of rows with r, calling each after each.
func collectListed(rows pgx.Rows, r *listedRow, each func()) ([]app.Listed, error) {
	defer rows.Close()
	var cases []app.Listed
	for rows.Next() {
		l, err := r.scan(rows)
		if err != nil {
			return nil, err
		}
		cases = append(cases, l)
		if each != nil {
			each()
		}
	}
	return cases, rows.Err()
}

// Listing returns the case with id as reads send it; ENOTFOUND when there
// is none.
func (s *Store) Listing(ctx context.Context, id string) (app.Listed, error) {
	if !validID(id) {
		return app.Listed{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+listedColumns+` FROM cases WHERE id = $1`, id)
	if err != nil {
		return app.Listed{}, readErr(err)
	}
	l, err := pgx.CollectExactlyOneRow(rows, scanListed)
	if errors.Is(err, pgx.ErrNoRows) {
		return app.Listed{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	return l, readErr(err)
}

// Case returns the case with id, whole; ENOTFOUND when there is none.
func (s *Store) Case(ctx context.Context, id string) (app.Row, error) {
	if !validID(id) {
		return app.Row{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+rowColumns+` FROM cases WHERE id = $1`, id)
	if err != nil {
		return app.Row{}, readErr(err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return app.Row{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	return r, readErr(err)
}

// query builds a statement's WHERE clause and its arguments.
type query struct {
	where []string
	args  []any
}

// arg adds v to the arguments and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) and(cond string) { q.where = append(q.where, cond) }

// whereClause renders the conditions added since the last call, and
// forgets them: a statement may have several clauses over one list of
// arguments.
func (q *query) whereClause() string {
	if len(q.where) == 0 {
		return ""
	}
	w := " WHERE " + strings.Join(q.where, " AND ")
	q.where = nil
	return w
}

// filter adds what f selects, but its paging, to q.
func (q *query) filter(f duban.CaseFilter) {
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		q.and("status = ANY(" + q.arg(statuses) + ")")
	}
	for _, eq := range []struct{ col, val string }{
		{"unit", f.Unit}, {"category", f.Category}, {"severity", string(f.Severity)}, {"area", f.Area}, {"reporter", f.Reporter},
		{"site", f.Site}, {"item", f.Item}, {"doc->'found'->>'round'", f.Round}, {"doc->'public'->>'rating'", string(f.Rating)},
	} {
		if eq.val != "" {
			q.and(eq.col + " = " + q.arg(eq.val))
		}
	}
	switch {
	case f.Text == "":
	case duban.LooksLikeCaseNumber(f.Text):
		q.and("number = " + q.arg(f.Text))
	default: // as Case.HasText: lower() is what strings.ToLower does
		pattern := q.arg("%" + likeEscaper.Replace(strings.ToLower(f.Text)) + "%")
		q.and("(lower(doc->>'description') LIKE " + pattern + " OR lower(doc->'location'->>'address') LIKE " + pattern + ")")
	}
	if f.Listed != nil {
		q.and("listed = " + q.arg(*f.Listed))
	}
	if f.Categories != nil {
		q.and("category = ANY(" + q.arg(f.Categories) + ")")
	}
	if !f.UpdatedFrom.IsZero() {
		q.and("updated_at >= " + q.arg(f.UpdatedFrom))
	}
	if !f.OpenedFrom.IsZero() {
		q.and("opened_at >= " + q.arg(f.OpenedFrom))
	}
	if !f.OpenedBefore.IsZero() {
		q.and("opened_at < " + q.arg(f.OpenedBefore))
	}
	if f.Overdue != nil {
		if *f.Overdue {
			q.and("stage_deadline <= " + q.arg(f.Now))
		} else {
			q.and("(stage_deadline IS NULL OR stage_deadline > " + q.arg(f.Now) + ")")
		}
	}
	if f.Escalated != nil {
		if *f.Escalated {
			q.and("escalate_at[1] <= " + q.arg(f.Now))
		} else {
			q.and("(stage_deadline IS NULL OR escalate_at[1] IS NULL OR escalate_at[1] > " + q.arg(f.Now) + ")")
		}
	}
}

// pageSize is f's page size, 50 when it says none.
func pageSize(f duban.CaseFilter) int {
	if f.Limit <= 0 {
		return 50
	}
	return f.Limit
}

// Cases lists the cases matching f, newest opened first, and the cursor of
// the next page (nil on the last page).
func (s *Store) Cases(ctx context.Context, f duban.CaseFilter) ([]app.Listed, *duban.CaseCursor, error) {
	var q query
	q.filter(f)
	if f.After != nil {
		q.and("(cases.opened_at, cases.id) < (" + q.arg(f.After.OpenedAt) + ", " + q.arg(f.After.ID) + "::uuid)")
	}
	limit := pageSize(f)
	// Qualified: the select list's id::text would otherwise be what id means here.
	cases, err := s.queryListed(ctx, "SELECT "+listedColumns+" FROM cases"+q.whereClause()+
		" ORDER BY cases.opened_at DESC, cases.id DESC LIMIT "+q.arg(limit+1), q.args...)
	if err != nil || len(cases) <= limit {
		return cases, nil, err
	}
	cases = cases[:limit]
	last := cases[limit-1]
	return cases, &duban.CaseCursor{OpenedAt: last.OpenedAt, ID: last.ID}, nil
}

// Plotted returns the first limit cases f selects, newest opened first, as
// the map draws them (their columns, no view), and whether more were left.
func (s *Store) Plotted(ctx context.Context, f duban.CaseFilter, limit int) ([]app.Plotted, bool, error) {
	var q query
	q.filter(f)
	// A row written by a release before 0023 has no coordinates of its own.
	// cases.id is the column, in cases_open_opened's order (id alone would
	// be the select list's text).
	rows, err := s.pool.Query(ctx, `SELECT id::text, coalesce(number, ''), category, status,
			coalesce(lat, (doc->'location'->>'lat')::float8), coalesce(lon, (doc->'location'->>'lon')::float8), listed,
			stage_deadline, escalate_at, escalation_level, calendar
		FROM cases`+q.whereClause()+` ORDER BY opened_at DESC, cases.id DESC LIMIT `+q.arg(limit+1), q.args...)
	if err != nil {
		return nil, false, readErr(err)
	}
	defer rows.Close()
	var out []app.Plotted
	var p app.Plotted
	var calendar []byte
	dest := []any{&p.ID, &p.Number, &p.Category, &p.Status, &p.Lat, &p.Lon, &p.Listed,
		&p.Clock.Deadline, &p.Clock.Levels, &p.Clock.Recorded, &calendar}
	for rows.Next() {
		p, calendar = app.Plotted{}, nil
		if err := rows.Scan(dest...); err != nil {
			return nil, false, err
		}
		if err := finishClock(&p.Clock, calendar); err != nil {
			return nil, false, fmt.Errorf("case %s: %w", p.ID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, false, readErr(err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// CountCases counts the cases f selects, all pages.
func (s *Store) CountCases(ctx context.Context, f duban.CaseFilter) (int, error) {
	var q query
	q.filter(f)
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM cases"+q.whereClause(), q.args...).Scan(&n)
	return n, err
}

// Escalations returns the open cases f selects whose running stage is
// overdue at f.Now, the highest escalation level first (duban.Clock.Level:
// escalate_at never decreases, so width_bucket counts the levels reached),
// then the longest overdue, after the position after (nil: from the top),
// and the position of the next page (nil on the last). Unfiltered, it
// ranks on the cases_clock index's columns alone and reads the rows of the
// page only.
func (s *Store) Escalations(ctx context.Context, f duban.CaseFilter, after *duban.BoardCursor) ([]app.Listed, *duban.BoardCursor, error) {
	var q query
	now := q.arg(f.Now)
	q.and("stage_deadline <= " + now)
	q.filter(f)
	ranked := "SELECT id, greatest(escalation_level, width_bucket(" + now + "::timestamptz, escalate_at)) AS level, stage_deadline AS deadline FROM cases" + q.whereClause()
	if after != nil {
		l, d, id := q.arg(after.Level), q.arg(after.Deadline), q.arg(after.ID)
		ranked = "SELECT * FROM (" + ranked + ") AS overdue WHERE level < " + l + " OR (level = " + l + " AND (deadline, id) > (" + d + ", " + id + "::uuid))"
	}
	limit := pageSize(f)
	rows, err := s.pool.Query(ctx, `SELECT `+listedColumns+`, ranked.level FROM (`+ranked+`
			ORDER BY level DESC, deadline, id LIMIT `+q.arg(limit+1)+`
		) AS ranked JOIN cases USING (id)
		ORDER BY ranked.level DESC, ranked.deadline, id`, q.args...)
	if err != nil {
		return nil, nil, readErr(err)
	}
	var levels []int
	var level int
	cases, err := collectListed(rows, newListedRow(&level), func() { levels = append(levels, level) })
	if err != nil || len(cases) <= limit {
		return cases, nil, readErr(err)
	}
	cases = cases[:limit]
	last := cases[limit-1]
	return cases, &duban.BoardCursor{Level: levels[limit-1], Deadline: *last.Clock.Deadline, ID: last.ID}, nil
}

func (s *Store) queryListed(ctx context.Context, sql string, args ...any) ([]app.Listed, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, readErr(err)
	}
	cases, err := collectListed(rows, newListedRow(), nil)
	return cases, readErr(err)
}

// CaseCounts counts the cases by status, and the open ones overdue and
// escalated at now (levels read off the clock, as the board does).
func (s *Store) CaseCounts(ctx context.Context, now time.Time) (duban.CaseCounts, error) {
	counts := duban.CaseCounts{ByStatus: map[duban.Status]int{}, Escalated: map[int]int{}}
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM cases GROUP BY status`)
	if err != nil {
		return counts, readErr(err)
	}
	var status string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error { counts.ByStatus[duban.Status(status)] = n; return nil }); err != nil {
		return counts, readErr(err)
	}
	rows, err = s.pool.Query(ctx, `SELECT greatest(escalation_level, width_bucket($1::timestamptz, escalate_at)) AS level, count(*)
		FROM cases WHERE stage_deadline <= $1 GROUP BY level`, now)
	if err != nil {
		return counts, readErr(err)
	}
	var level int
	_, err = pgx.ForEachRow(rows, []any{&level, &n}, func() error {
		counts.Overdue += n
		if level > 0 {
			counts.Escalated[level] = n
		}
		return nil
	})
	return counts, readErr(err)
}

// likeEscaper escapes LIKE's wildcards, so that text is matched as it is.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// NextCaseNumber draws the next number of year's sequence. It commits on
// its own: a number is drawn once, whatever becomes of its open.
func (s *Store) NextCaseNumber(ctx context.Context, year int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `INSERT INTO case_numbers (year, last) VALUES ($1, 1)
		ON CONFLICT (year) DO UPDATE SET last = case_numbers.last + 1 RETURNING last`, year).Scan(&n)
	return n, err
}

// calendars keeps the calendars the rows of lists hold, decoded, by their
// JSON: a city's open cases are counted on a handful of calendars (one per
// policy change at most), and a board of a thousand cases would otherwise
// decode a thousand copies. What it holds is shared: read, never changed.
var calendars = calendarCache{m: map[string]duban.Calendar{}}

type calendarCache struct {
	mu sync.Mutex
	m  map[string]duban.Calendar
}

// calendarCacheSize bounds the cache; past it, it starts again empty.
const calendarCacheSize = 256

func (c *calendarCache) decode(b []byte) (duban.Calendar, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cal, ok := c.m[string(b)]; ok {
		return cal, nil
	}
	var cal duban.Calendar
	if err := json.Unmarshal(b, &cal); err != nil {
		return duban.Calendar{}, err
	}
	if len(c.m) >= calendarCacheSize {
		clear(c.m)
	}
	c.m[string(b)] = cal
	return cal, nil
}
