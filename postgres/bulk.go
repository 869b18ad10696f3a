package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
)

// CaseHistory is one case's events, in version order.
type CaseHistory struct {
	Events []duban.Event
}

// BulkLoad writes whole case histories with COPY, in one transaction: the
// events, the projection rows and the scorecards' facts and stretches,
// exactly as appending them one command at a time would. It is for loading
// many cases at once (benchmarks, imports of records kept elsewhere) into
// cases that do not exist yet; it runs no workflow, so a loaded open case
// has no timers until its workflow is started.
func (s *Store) BulkLoad(ctx context.Context, histories []CaseHistory) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var events [][]any
		var merged []string // loaded duplicates, to list on the cases they merged into
		cases := make([][]any, 0, len(histories))
		all := make([][]duban.Event, 0, len(histories))
		for _, h := range histories {
			if len(h.Events) == 0 {
				return errors.New("bulk load: a case without events")
			}
			whole := duban.Append{CaseID: h.Events[0].CaseID, Events: h.Events}
			if err := whole.Check(); err != nil {
				return fmt.Errorf("bulk load: %w", err)
			}
			for _, e := range h.Events {
				actor, data, err := marshalEvent(e)
				if err != nil {
					return err
				}
				events = append(events, []any{e.ID, e.CaseID, e.Version, e.Type, e.OccurredAt, actor, data, "bulk-load"})
			}
			c := whole.After()
			row, err := projectionRow(c)
			if err != nil {
				return err
			}
			cases = append(cases, row)
			if c.DuplicateOf != "" {
				merged = append(merged, c.ID)
			}
			all = append(all, h.Events)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"},
			[]string{"id", "case_id", "version", "type", "occurred_at", "actor", "data", "command_id"}, pgx.CopyFromRows(events)); err != nil {
			return fmt.Errorf("bulk load events: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cases"}, projectionColumns, pgx.CopyFromRows(cases)); err != nil {
			return fmt.Errorf("bulk load cases: %w", err)
		}
		if err := copyAssessment(ctx, tx, all); err != nil {
			return fmt.Errorf("bulk load: %w", err)
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
