package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
)

// Rebuild is what RebuildProjections found and, unless checking, did.
type Rebuild struct {
	Cases int64 // cases folded from their events
	// Differed counts the projection rows that were not the fold of their
	// case's events (missing rows included); Examples are up to MaxFlaws
	// of them, with what differs.
	Differed int64
	Examples []Differing
	// Rewritten counts the rows rewritten (0 when checking).
	Rewritten int64
}

// Differing is a case whose projection is not the fold of its events, and
// what of it differs: columns of its row ("status"), the keys of its
// whole case or its view ("doc.escalation_level", "view.status"), "row"
// when there is none, "facts" or "stretches" (the scorecards' rows),
// "duplicates".
type Differing struct {
	Case   string
	Fields []string
}

func (d Differing) String() string {
	return fmt.Sprintf("case %s: its projection is not the fold of its events: %s", d.Case, strings.Join(d.Fields, ", "))
}

// rebuildBatch is how many cases RebuildProjections folds per transaction.
const rebuildBatch = 500

// RebuildProjections folds every case's events again and compares the
// result with its projection row. Checking, it writes nothing; otherwise it
// rewrites each row that differs. It runs online, beside appends: a row a
// newer append has moved past the events read here is left to that append.
// progress, when not nil, is told the cases folded so far after each batch.
func (s *Store) RebuildProjections(ctx context.Context, check bool, progress func(folded int64)) (Rebuild, error) {
	var r Rebuild
	after := "00000000-0000-0000-0000-000000000000"
	for {
		ids, err := s.nextCaseIDs(ctx, after)
		if err != nil {
			return r, err
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		if err := s.rebuildCases(ctx, ids, check, &r); err != nil {
			return r, err
		}
		if progress != nil {
			progress(r.Cases)
		}
	}
	return r, s.rebuildDuplicates(ctx, check, &r)
}

func (s *Store) nextCaseIDs(ctx context.Context, after string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT case_id::text FROM events WHERE version = 1 AND case_id > $1
		ORDER BY case_id LIMIT $2`, after, rebuildBatch)
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// rebuildCases folds the cases ids, and assesses their histories, into
// temporary tables, in one transaction, and compares them with (or copies
// them into) the projection and the scorecards' facts and stretches.
func (s *Store) rebuildCases(ctx context.Context, ids []string, check bool, r *Rebuild) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		histories, err := readHistories(ctx, tx, ids)
		if err != nil {
			return err
		}
		r.Cases += int64(len(histories))
		var rows [][]any
		for _, events := range histories {
			row, err := projectionRow(duban.Fold(duban.Case{}, events))
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		for _, stmt := range []string{
			`CREATE TEMPORARY TABLE folded (LIKE cases INCLUDING DEFAULTS) ON COMMIT DROP`,
			`CREATE TEMPORARY TABLE folded_facts (LIKE facts INCLUDING DEFAULTS) ON COMMIT DROP`,
			`CREATE TEMPORARY TABLE folded_stretches (LIKE stretches INCLUDING DEFAULTS) ON COMMIT DROP`,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("rebuild: %w", err)
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"folded"}, projectionColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		if err := copyAssessmentInto(ctx, tx, histories, "folded_facts", "folded_stretches"); err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		cols := strings.Join(projectionColumns, ", ")
		// A case differs when its row, or any of its facts or stretches,
		// is not what its events fold to; each such part is named.
		differ := fmt.Sprintf(`SELECT f.id::text, CASE WHEN c.id IS NULL THEN ARRAY['row'] ELSE %s END
			FROM folded AS f LEFT JOIN cases AS c ON c.id = f.id
			WHERE c.id IS NULL OR (%s) IS DISTINCT FROM (%s)
			UNION ALL SELECT DISTINCT case_id::text, ARRAY['facts'] FROM (
				(SELECT * FROM folded_facts EXCEPT SELECT * FROM facts WHERE case_id = ANY($1::uuid[]))
				UNION ALL (SELECT * FROM facts WHERE case_id = ANY($1::uuid[]) EXCEPT SELECT * FROM folded_facts)) AS facts_differ
			UNION ALL SELECT DISTINCT case_id::text, ARRAY['stretches'] FROM (
				(SELECT * FROM folded_stretches EXCEPT SELECT * FROM stretches WHERE case_id = ANY($1::uuid[]))
				UNION ALL (SELECT * FROM stretches WHERE case_id = ANY($1::uuid[]) EXCEPT SELECT * FROM folded_stretches)) AS stretches_differ
			ORDER BY 1`, differingColumns(), prefixed("f", projectionColumns), prefixed("c", projectionColumns))
		differed, err := tx.Query(ctx, differ, ids)
		if err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		found, err := pgx.CollectRows(differed, pgx.RowToStructByPos[Differing])
		if err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		var stale []string
		for _, d := range found {
			if n := len(stale); n > 0 && stale[n-1] == d.Case {
				last := &r.Examples[len(r.Examples)-1]
				if last.Case == d.Case {
					last.Fields = append(last.Fields, d.Fields...)
				}
				continue
			}
			stale = append(stale, d.Case)
			if len(r.Examples) < MaxFlaws {
				r.Examples = append(r.Examples, d)
			}
		}
		r.Differed += int64(len(stale))
		if check || len(stale) == 0 {
			return nil
		}
		// Only cases no append has moved past since their events were read:
		// such a case's row, facts and stretches are its append's.
		rewritten, err := tx.Query(ctx, `INSERT INTO cases (`+cols+`) SELECT `+cols+` FROM folded WHERE id = ANY($1::uuid[])
			ON CONFLICT (id) DO UPDATE SET `+excludedAssignments()+` WHERE cases.version <= excluded.version
			RETURNING id`, stale)
		if err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		current, err := pgx.CollectRows(rewritten, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		for _, stmt := range []string{
			`DELETE FROM facts WHERE case_id = ANY($1::uuid[])`,
			`DELETE FROM stretches WHERE case_id = ANY($1::uuid[])`,
			`INSERT INTO facts SELECT * FROM folded_facts WHERE case_id = ANY($1::uuid[])`,
			`INSERT INTO stretches SELECT * FROM folded_stretches WHERE case_id = ANY($1::uuid[])`,
		} {
			if _, err := tx.Exec(ctx, stmt, current); err != nil {
				return fmt.Errorf("rebuild: %w", err)
			}
		}
		r.Rewritten += int64(len(current))
		return nil
	})
}

// readHistories reads the events of the cases ids, a slice of events a case.
func readHistories(ctx context.Context, tx pgx.Tx, ids []string) ([][]duban.Event, error) {
	rows, err := tx.Query(ctx, eventColumns+` WHERE case_id = ANY($1::uuid[]) ORDER BY case_id, version`, ids)
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	events, _, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	var out [][]duban.Event
	for i := 0; i < len(events); {
		j := i
		for j < len(events) && events[j].CaseID == events[i].CaseID {
			j++
		}
		out = append(out, events[i:j])
		i = j
	}
	return out, nil
}

// rebuildDuplicates compares (and sets) each case's list of the duplicates
// merged into it, as a set: appends list them in the order they came.
func (s *Store) rebuildDuplicates(ctx context.Context, check bool, r *Rebuild) error {
	const expected = `WITH expected AS (
			SELECT c.id, coalesce(array_agg(d.id ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '{}') AS ids
			FROM cases AS c LEFT JOIN cases AS d ON d.duplicate_of = c.id AND d.status = 'cancelled'
			GROUP BY c.id
		), differing AS (
			SELECT c.id, e.ids FROM cases AS c JOIN expected AS e ON e.id = c.id
			WHERE e.ids <> ARRAY(SELECT x FROM unnest(c.duplicates) AS x ORDER BY x)
		)`
	query := expected + ` SELECT id::text FROM differing ORDER BY id`
	if !check {
		query = expected + ` UPDATE cases SET duplicates = differing.ids FROM differing
			WHERE cases.id = differing.id RETURNING cases.id::text`
	}
	rows, err := s.pool.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("rebuild duplicates: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("rebuild duplicates: %w", err)
	}
	r.Differed += int64(len(ids))
	for _, id := range ids[:min(len(ids), MaxFlaws-len(r.Examples))] {
		r.Examples = append(r.Examples, Differing{Case: id, Fields: []string{"duplicates"}})
	}
	if !check {
		r.Rewritten += int64(len(ids))
	}
	return nil
}

// differingColumns is an expression of folded row f and projection row c:
// the names of the columns that differ, and of doc's and view's keys.
func differingColumns() string {
	var parts []string
	for _, col := range projectionColumns {
		switch col {
		case "id":
		case "doc", "view":
			parts = append(parts, fmt.Sprintf(`CASE WHEN (f.%[1]s IS NULL) <> (c.%[1]s IS NULL) THEN ARRAY['%[1]s']
				ELSE ARRAY(SELECT '%[1]s.' || k FROM jsonb_each(f.%[1]s::jsonb) AS a (k, v) FULL JOIN jsonb_each(c.%[1]s::jsonb) AS b (k, v) USING (k)
					WHERE a.v IS DISTINCT FROM b.v ORDER BY k) END`, col))
		default:
			parts = append(parts, fmt.Sprintf(`array_remove(ARRAY[CASE WHEN f.%[1]s IS DISTINCT FROM c.%[1]s THEN '%[1]s' END], NULL)`, col))
		}
	}
	return strings.Join(parts, " || ")
}

func prefixed(table string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = table + "." + c
	}
	return strings.Join(out, ", ")
}
