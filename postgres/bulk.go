package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
)

// CaseHistory is one case's events, in version order, and the case they fold to.
type CaseHistory struct {
	Events []duban.Event
	Case   duban.Case
}

// BulkLoad writes whole case histories with COPY, in one transaction: the
// events and the projection rows, exactly as appending them one command at
// a time would. It is for loading many cases at once (benchmarks, imports of
// records kept elsewhere) into cases that do not exist yet; it runs no
// workflow, so a loaded open case has no timers until its workflow is started.
func (s *Store) BulkLoad(ctx context.Context, histories []CaseHistory) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var events [][]any
		var merged []string // loaded duplicates, to list on the cases they merged into
		cases := make([][]any, 0, len(histories))
		for _, h := range histories {
			if n := len(h.Events); n == 0 || h.Case.Version != h.Events[n-1].Version {
				return fmt.Errorf("bulk load: case %s does not end at its last event", h.Case.ID)
			}
			for i, e := range h.Events {
				if e.CaseID != h.Case.ID || e.Version != int64(i+1) {
					return fmt.Errorf("bulk load: case %s: event %d is %s v%d", h.Case.ID, i, e.CaseID, e.Version)
				}
				actor, data, err := marshalEvent(e)
				if err != nil {
					return err
				}
				events = append(events, []any{e.ID, e.CaseID, e.Version, e.Type, e.OccurredAt, actor, data, "bulk-load"})
			}
			row, err := projectionRow(h.Case)
			if err != nil {
				return err
			}
			cases = append(cases, row)
			if h.Case.DuplicateOf != "" {
				merged = append(merged, h.Case.ID)
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"},
			[]string{"id", "case_id", "version", "type", "occurred_at", "actor", "data", "command_id"}, pgx.CopyFromRows(events)); err != nil {
			return fmt.Errorf("bulk load events: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cases"}, projectionColumns, pgx.CopyFromRows(cases)); err != nil {
			return fmt.Errorf("bulk load cases: %w", err)
		}
		if len(merged) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `UPDATE cases AS original SET duplicates = original.duplicates || dup.ids
			FROM (SELECT duplicate_of, array_agg(id ORDER BY opened_at, id) AS ids FROM cases
			      WHERE id = ANY($1::uuid[]) GROUP BY duplicate_of) AS dup
			WHERE original.id = dup.duplicate_of`, merged)
		return err
	})
}
