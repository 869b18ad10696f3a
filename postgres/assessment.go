package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
)

// factColumns and stretchColumns are the columns of facts and stretches,
// in the order factRow and stretchRow give their values.
var (
	factColumns    = []string{"case_id", "version", "kind", "at", "unit", "actor", "category", "area", "level", "late", "failed", "minutes"}
	stretchColumns = []string{"case_id", "version", "since", "until", "unit", "category", "area", "deadline", "suspended"}
)

func factRow(f duban.Fact) []any {
	var minutes *float64
	if f.Kind == duban.FactAcknowledged || f.Kind == duban.FactResolved {
		minutes = &f.Minutes
	}
	return []any{f.CaseID, f.Version, string(f.Kind), f.At, nullable(f.Unit), nullable(f.Actor), f.Category, nullable(f.Area),
		f.Level, f.Late, f.Failed, minutes}
}

func stretchRow(s duban.Stretch) []any {
	return []any{s.CaseID, s.Version, s.Since, s.Until, s.Unit, s.Category, nullable(s.Area), s.Deadline, s.Suspended}
}

// queueAssessed queues, in event order, what a's events change of the
// facts and stretches.
func queueAssessed(batch *pgx.Batch, a duban.Append) {
	for i, x := range a.Assessed() {
		at := a.Events[i].OccurredAt
		if x.Retract {
			batch.Queue(`DELETE FROM facts WHERE case_id = $1`, a.CaseID)
			batch.Queue(`DELETE FROM stretches WHERE case_id = $1`, a.CaseID)
		}
		if x.Ends {
			batch.Queue(`UPDATE stretches SET until = $2 WHERE case_id = $1 AND until IS NULL`, a.CaseID, at)
		}
		if x.Begins != nil {
			batch.Queue(insertStretch, stretchRow(*x.Begins)...)
		}
		for _, f := range x.Facts {
			batch.Queue(insertFact, factRow(f)...)
		}
	}
}

var (
	insertFact    = insertInto("facts", factColumns)
	insertStretch = insertInto("stretches", stretchColumns)
)

// insertInto is the statement inserting a row of columns into table.
func insertInto(table string, columns []string) string {
	params := make([]string, len(columns))
	for i := range columns {
		params[i] = "$" + strconv.Itoa(i+1)
	}
	return "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES (" + strings.Join(params, ", ") + ")"
}

// copyAssessment writes the facts and stretches of whole histories with COPY.
func copyAssessment(ctx context.Context, tx pgx.Tx, histories [][]duban.Event) error {
	return copyAssessmentInto(ctx, tx, histories, "facts", "stretches")
}

// copyAssessmentInto writes them into the tables named.
func copyAssessmentInto(ctx context.Context, tx pgx.Tx, histories [][]duban.Event, factTable, stretchTable string) error {
	var facts, stretches [][]any
	for _, events := range histories {
		fs, ss := duban.AssessHistory(events)
		for _, f := range fs {
			facts = append(facts, factRow(f))
		}
		for _, s := range ss {
			stretches = append(stretches, stretchRow(s))
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{factTable}, factColumns, pgx.CopyFromRows(facts)); err != nil {
		return fmt.Errorf("facts: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{stretchTable}, stretchColumns, pgx.CopyFromRows(stretches)); err != nil {
		return fmt.Errorf("stretches: %w", err)
	}
	return nil
}

// fillAssessment writes the facts and stretches of every case the store
// holds, a batch of cases at a time: what migration 0009, which made their
// tables, leaves to Go.
func fillAssessment(ctx context.Context, tx pgx.Tx) error {
	after := "00000000-0000-0000-0000-000000000000"
	for {
		rows, err := tx.Query(ctx, `SELECT case_id::text FROM events WHERE version = 1 AND case_id > $1
			ORDER BY case_id LIMIT $2`, after, rebuildBatch)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		after = ids[len(ids)-1]
		histories, err := readHistories(ctx, tx, ids)
		if err != nil {
			return err
		}
		if err := copyAssessment(ctx, tx, histories); err != nil {
			return err
		}
	}
}
