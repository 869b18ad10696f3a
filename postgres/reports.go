package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/duban/duban"
)

// The scorecards read the facts in a period and the stretches at its end:
// aggregations over the facts_at (or facts_unit_at) and stretches_during
// indexes, never a scan of the events.

// factsIn adds q's period and filters over the facts table, prefixed p, to w.
func factsIn(w *query, q duban.ReportQuery) {
	w.and("at >= " + w.arg(q.From) + " AND at < " + w.arg(q.End()))
	caseFilters(w, q)
}

// overdueAt adds the stretches of obligations running and overdue at the
// end of q's period, filtered as q says, to w: those that hold the instant
// (since < end <= until, by the stretches_during index; least keeps a
// range valid should a clock ever have stepped back), with their clock
// running and their deadline before it.
func overdueAt(w *query, q duban.ReportQuery) {
	end := w.arg(q.End())
	w.and("tstzrange(least(since, until), until, '(]') @> " + end + "::timestamptz AND NOT suspended AND deadline < " + end)
	caseFilters(w, q)
}

func caseFilters(w *query, q duban.ReportQuery) {
	for _, eq := range []struct{ col, val string }{{"unit", q.Unit}, {"category", q.Category}, {"area", q.Area}} {
		if eq.val != "" {
			w.and(eq.col + " = " + w.arg(eq.val))
		}
	}
}

// UnitCountsSQL is the statement UnitCounts runs for q, and its arguments:
// the benchmarks time it raw.
func UnitCountsSQL(q duban.ReportQuery) (string, []any) {
	var w query
	factsIn(&w, q)
	w.and("unit IS NOT NULL")
	inPeriod := w.whereClause()
	overdueAt(&w, q)
	atEnd := w.whereClause()
	// The period's facts are counted by what the figures tell apart (one
	// count a group, a few hundred groups), and the figures summed from
	// those (n is an integer so that its sums are bigints, as counts
	// are); only the timed facts are read again, and sorted, for their
	// percentiles. Counting each figure with a FILTER over every fact,
	// from a materialized copy of them, took 1.1 to 1.5 times as long
	// (BENCHMARKS.md, scorecards).
	return `WITH g AS MATERIALIZED (
			SELECT unit, kind, late, failed, level, count(*)::integer AS n FROM facts` + inPeriod + `
			GROUP BY unit, kind, late, failed, level
		), counted AS (
			SELECT unit,
				sum(n) FILTER (WHERE kind = 'dispatched') AS dispatched,
				sum(n) FILTER (WHERE kind = 'resolved') AS handled,
				sum(n) FILTER (WHERE kind = 'resolved' AND NOT late) AS handled_on_time,
				sum(n) FILTER (WHERE kind = 'verification') AS verifications,
				sum(n) FILTER (WHERE kind = 'verification' AND failed) AS rework,
				sum(n) FILTER (WHERE kind = 'closed') AS closed,
				sum(n) FILTER (WHERE kind = 'extension_approved') AS extensions_approved,
				sum(n) FILTER (WHERE kind = 'urge') AS urges,
				sum(n) FILTER (WHERE kind = 'no_further_action') AS no_further_action,
				sum(n) FILTER (WHERE kind = 'recurrence') AS recurrences,
				sum(n) FILTER (WHERE kind = 'listed') AS listed,
				sum(n) FILTER (WHERE kind = 'rated') AS rated,
				sum(n) FILTER (WHERE kind = 'rated' AND NOT failed) AS satisfied
			FROM g GROUP BY unit
		), timed AS (
			SELECT unit,
				percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes) FILTER (WHERE kind = 'acknowledged') AS ack_p50,
				percentile_cont(0.9) WITHIN GROUP (ORDER BY minutes) FILTER (WHERE kind = 'acknowledged') AS ack_p90,
				percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes) FILTER (WHERE kind = 'resolved') AS resolve_p50,
				percentile_cont(0.9) WITHIN GROUP (ORDER BY minutes) FILTER (WHERE kind = 'resolved') AS resolve_p90
			FROM facts` + inPeriod + ` AND kind IN ('acknowledged', 'resolved') GROUP BY unit
		), escalated AS (
			SELECT unit, jsonb_object_agg(level, n) AS escalations
			FROM (SELECT unit, level, sum(n) AS n FROM g WHERE kind = 'escalation' GROUP BY unit, level) AS by_level
			GROUP BY unit
		), overdue AS (
			SELECT unit, count(*) AS overdue_open FROM stretches` + atEnd + ` GROUP BY unit
		)
		SELECT unit, coalesce(dispatched, 0), coalesce(handled, 0), coalesce(handled_on_time, 0),
			coalesce(overdue_open, 0), coalesce(verifications, 0), coalesce(rework, 0), coalesce(closed, 0),
			coalesce(extensions_approved, 0), coalesce(urges, 0), coalesce(no_further_action, 0),
			coalesce(recurrences, 0), coalesce(listed, 0), coalesce(rated, 0), coalesce(satisfied, 0), coalesce(escalations, '{}'), ack_p50, ack_p90, resolve_p50, resolve_p90
		FROM counted FULL JOIN overdue USING (unit) LEFT JOIN timed USING (unit) LEFT JOIN escalated USING (unit)`, w.args
}

// UnitCounts counts SPEC.md's figures over q for every unit with a fact in
// its period or an obligation overdue at its end; duban.Assessment.Finish
// computes the rest.
func (s *Store) UnitCounts(ctx context.Context, q duban.ReportQuery) ([]duban.UnitRow, error) {
	sql, args := UnitCountsSQL(q)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, readErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (duban.UnitRow, error) {
		var r duban.UnitRow
		err := row.Scan(&r.Unit, &r.Dispatched, &r.Handled, &r.HandledOnTime, &r.OverdueOpen, &r.Verifications, &r.Rework,
			&r.Closed, &r.ExtensionsApproved, &r.Urges, &r.NoFurtherAction, &r.Recurrences, &r.Listed, &r.Rated, &r.Satisfied, &r.Escalations,
			&r.AckMinutes.P50, &r.AckMinutes.P90, &r.ResolveMinutes.P50, &r.ResolveMinutes.P90)
		return r, err
	})
	return out, readErr(err)
}

// InspectorCounts counts, over q, each inspector's cases opened,
// verifications and verifications before the verify deadline.
func (s *Store) InspectorCounts(ctx context.Context, q duban.ReportQuery) ([]duban.InspectorRow, error) {
	var w query
	factsIn(&w, q)
	w.and("actor IS NOT NULL")
	rows, err := s.pool.Query(ctx, `SELECT actor,
			count(*) FILTER (WHERE kind = 'opened'),
			count(*) FILTER (WHERE kind = 'verification'),
			count(*) FILTER (WHERE kind = 'verification' AND NOT late)
		FROM facts`+w.whereClause()+` GROUP BY actor`, w.args...)
	if err != nil {
		return nil, readErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (duban.InspectorRow, error) {
		var r duban.InspectorRow
		return r, row.Scan(&r.Inspector, &r.Opened, &r.Verifications, &r.VerifiedOnTime)
	})
	return out, readErr(err)
}

// figureFacts says which facts a figure counts.
var figureFacts = map[string]string{
	"dispatched":          "kind = 'dispatched'",
	"handled":             "kind = 'resolved'",
	"handled_on_time":     "kind = 'resolved' AND NOT late",
	"verifications":       "kind = 'verification'",
	"rework":              "kind = 'verification' AND failed",
	"closed":              "kind = 'closed'",
	"extensions_approved": "kind = 'extension_approved'",
	"escalations":         "kind = 'escalation'",
	"urges":               "kind = 'urge'",
	"no_further_action":   "kind = 'no_further_action'",
	"recurrences":         "kind = 'recurrence'",
	"listed":              "kind = 'listed'",
	"rated":               "kind = 'rated'",
	"dissatisfied":        "kind = 'rated' AND failed",
}

// FigureCasesSQL is the statement FigureCases runs for q and figure, and
// its arguments: the benchmarks time it raw.
func FigureCasesSQL(q duban.ReportQuery, figure string) (string, []any, error) {
	var w query
	var parts []string
	if cond, ok := figureFacts[figure]; ok || figure == "due" {
		if figure == "due" {
			cond = figureFacts["handled"]
		}
		factsIn(&w, q)
		w.and(cond)
		parts = append(parts, "SELECT case_id FROM facts"+w.whereClause())
	}
	if figure == "overdue_open" || figure == "due" {
		overdueAt(&w, q)
		parts = append(parts, "SELECT case_id FROM stretches"+w.whereClause())
	}
	if len(parts) == 0 {
		return "", nil, fmt.Errorf("no figure %q", figure)
	}
	sql := "SELECT DISTINCT case_id::text FROM (" + parts[0]
	for _, p := range parts[1:] {
		sql += " UNION ALL " + p
	}
	return sql + ") AS behind ORDER BY 1", w.args, nil
}

// FigureCases returns the ids of the cases behind a figure of q.Unit's row
// over q, each once, in order.
func (s *Store) FigureCases(ctx context.Context, q duban.ReportQuery, figure string) ([]string, error) {
	sql, args, err := FigureCasesSQL(q, figure)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, readErr(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, readErr(err)
}

// PublishBulletin keeps b, published now, with its lists, and the
// sanctions it brings (imposed now, each with its SanctionImposed event),
// all in one transaction, unless a bulletin of its period is kept
// already: published reports whether this call kept it. A kept bulletin
// never changes, nor do its sanctions but by their follow-up.
func (s *Store) PublishBulletin(ctx context.Context, b duban.Bulletin) (published bool, err error) {
	b = b.UTC()
	rows, err := json.Marshal(b.Rows)
	if err != nil {
		return false, err
	}
	red, err := json.Marshal(b.RedList)
	if err != nil {
		return false, err
	}
	black, err := json.Marshal(b.BlackList)
	if err != nil {
		return false, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO bulletins (period, period_from, period_to, rows, red_list, black_list)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (period) DO NOTHING RETURNING published_at`,
			b.Name, b.From, b.To, rows, red, black).Scan(&b.PublishedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		published = true
		batch := &pgx.Batch{}
		for _, sn := range b.Sanctions {
			sn.Imposed = b.PublishedAt
			if err := queueSanction(batch, sn); err != nil {
				return err
			}
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	return published, err
}

// queueSanction queues the event that made sn as it is and its row.
func queueSanction(batch *pgx.Batch, sn duban.Sanction) error {
	e := sn.Event()
	actor, err := json.Marshal(e.Actor)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(sn)
	if err != nil {
		return err
	}
	batch.Queue(`INSERT INTO sanction_events (id, sanction_id, version, type, unit, occurred_at, actor, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.SanctionID, e.Version, e.Type, sn.Unit, e.OccurredAt, actor, doc)
	batch.Queue(`INSERT INTO sanctions (id, period, period_to, unit, status, version, doc) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, version = excluded.version, doc = excluded.doc`,
		sn.ID, sn.Period, sn.PeriodTo, sn.Unit, sn.Status, sn.Version, doc)
	return nil
}

// bulletinColumns are what a bulletin is read from, in scanBulletin's order.
const bulletinColumns = `period, period_from, period_to, published_at, red_list, black_list,
	coalesce((SELECT jsonb_agg(doc) FROM sanctions WHERE sanctions.period = bulletins.period), '[]')`

// scanBulletin reads a bulletin's columns (bulletinColumns), then the
// more of into.
func scanBulletin(row pgx.Row, more ...any) (duban.Bulletin, error) {
	var b duban.Bulletin
	var red, black, sanctions []byte
	if err := row.Scan(append([]any{&b.Name, &b.From, &b.To, &b.PublishedAt, &red, &black, &sanctions}, more...)...); err != nil {
		return b, err
	}
	err := errors.Join(json.Unmarshal(red, &b.RedList), json.Unmarshal(black, &b.BlackList), json.Unmarshal(sanctions, &b.Sanctions))
	duban.SortSanctions(b.Sanctions)
	return b.UTC(), err
}

// Bulletins lists the published bulletins, the latest period first,
// without their rows.
func (s *Store) Bulletins(ctx context.Context) ([]duban.Bulletin, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+bulletinColumns+` FROM bulletins ORDER BY period_to DESC`)
	if err != nil {
		return nil, readErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (duban.Bulletin, error) { return scanBulletin(row) })
	return out, readErr(err)
}

// Bulletin returns the bulletin of period, with its rows; ENOTFOUND when
// none is published.
func (s *Store) Bulletin(ctx context.Context, period string) (duban.Bulletin, error) {
	var rows []byte
	b, err := scanBulletin(s.pool.QueryRow(ctx, `SELECT `+bulletinColumns+`, rows FROM bulletins WHERE period = $1`, period), &rows)
	if errors.Is(err, pgx.ErrNoRows) {
		return duban.Bulletin{}, duban.Errorf(duban.ENOTFOUND, "no bulletin of period %s is published", period)
	} else if err != nil {
		return duban.Bulletin{}, readErr(err)
	}
	return b, json.Unmarshal(rows, &b.Rows)
}

// Sanctions lists the sanctions f selects, in duban.SortSanctions' order.
func (s *Store) Sanctions(ctx context.Context, f duban.SanctionFilter) ([]duban.Sanction, error) {
	rows, err := s.pool.Query(ctx, `SELECT doc FROM sanctions
		WHERE ($1 = '' OR status = $1) AND ($2 = '' OR unit = $2) AND ($3 = '' OR period = $3)`, string(f.Status), f.Unit, f.Period)
	if err != nil {
		return nil, readErr(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[duban.Sanction])
	duban.SortSanctions(out)
	return out, readErr(err)
}

// Sanction returns a sanction; ENOTFOUND when there is none.
func (s *Store) Sanction(ctx context.Context, id string) (duban.Sanction, error) {
	var sn duban.Sanction
	err := s.pool.QueryRow(ctx, `SELECT doc FROM sanctions WHERE id = $1`, id).Scan(&sn)
	if errors.Is(err, pgx.ErrNoRows) {
		return sn, duban.Errorf(duban.ENOTFOUND, "no sanction %s", id)
	}
	return sn, readErr(err)
}

// RecordSanction records sanction after (a follow-up of the sanction at
// version after.Version-1): its event and its row, together; ECONFLICT
// when it changed meanwhile.
func (s *Store) RecordSanction(ctx context.Context, after duban.Sanction) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		if err := queueSanction(batch, after); err != nil {
			return err
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return duban.Errorf(duban.ECONFLICT, "sanction %s was changed meanwhile: read it again", after.ID)
	}
	return err
}

// SanctionEvents returns a sanction's events in version order.
func (s *Store) SanctionEvents(ctx context.Context, id string) ([]duban.SanctionEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, sanction_id, version, type, occurred_at, actor, data FROM sanction_events
		WHERE sanction_id = $1 ORDER BY version`, id)
	if err != nil {
		return nil, readErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (duban.SanctionEvent, error) {
		var e duban.SanctionEvent
		err := row.Scan(&e.ID, &e.SanctionID, &e.Version, &e.Type, &e.OccurredAt, &e.Actor, &e.Data)
		e.OccurredAt = e.OccurredAt.UTC()
		return e, err
	})
	return out, readErr(err)
}
