package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
)

// RecordRound records a planned round and the sites it drew. A round
// whose id is there already is left as it is and answered, created false.
func (s *Store) RecordRound(ctx context.Context, r duban.Round) (duban.Round, bool, error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return duban.Round{}, false, err
	}
	created := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO rounds (id, planned_at, due_by, doc) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
			r.ID, r.PlannedAt, r.DueBy, doc)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		created = true
		rows := make([][]any, len(r.Sites))
		for i, rs := range r.Sites {
			rows[i] = []any{r.ID, rs.Site, rs.Inspector}
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"round_sites"}, []string{"round", "site", "inspector"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return duban.Round{}, false, err
	}
	stored, err := s.Round(ctx, r.ID)
	return stored, created, err
}

// roundColumns are what reads of rounds select: the round as planned,
// its sites inspected and the steps of its ladder taken.
const roundColumns = `doc, ARRAY(SELECT site FROM inspections WHERE round = rounds.id),
	(SELECT coalesce(jsonb_agg(doc ORDER BY due_at, level), '[]') FROM round_steps WHERE round = rounds.id)`

func scanRound(row pgx.CollectableRow) (duban.Round, error) {
	var doc, steps []byte
	var inspected []string
	if err := row.Scan(&doc, &inspected, &steps); err != nil {
		return duban.Round{}, err
	}
	var r duban.Round
	if err := json.Unmarshal(doc, &r); err != nil {
		return duban.Round{}, fmt.Errorf("decode round: %w", err)
	}
	if err := json.Unmarshal(steps, &r.Steps); err != nil {
		return duban.Round{}, fmt.Errorf("decode round steps: %w", err)
	}
	if len(r.Steps) == 0 {
		r.Steps = nil
	}
	done := make(map[string]bool, len(inspected))
	for _, site := range inspected {
		done[site] = true
	}
	for i := range r.Sites {
		r.Sites[i].Inspected = done[r.Sites[i].Site]
	}
	r.Settle()
	return r, nil
}

// Round returns a round and what of it is inspected; ENOTFOUND when
// there is none.
func (s *Store) Round(ctx context.Context, id string) (duban.Round, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+roundColumns+` FROM rounds WHERE id = $1`, id)
	if err != nil {
		return duban.Round{}, readErr(err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanRound)
	if errors.Is(err, pgx.ErrNoRows) {
		return duban.Round{}, duban.Errorf(duban.ENOTFOUND, "round not found")
	}
	return r, readErr(err)
}

// Rounds lists the latest rounds planned, at most limit: those with a
// site for inspector, or every one when inspector is "".
func (s *Store) Rounds(ctx context.Context, inspector string, limit int) ([]duban.Round, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+roundColumns+` FROM rounds
		WHERE $1 = '' OR id IN (SELECT round FROM round_sites WHERE inspector = $1)
		ORDER BY planned_at DESC, id DESC LIMIT $2`, inspector, limit)
	if err != nil {
		return nil, readErr(err)
	}
	rounds, err := pgx.CollectRows(rows, scanRound)
	return rounds, readErr(err)
}

// RecordRoundStep records a step of a round's ladder, unless that level
// is recorded already (recorded false).
func (s *Store) RecordRoundStep(ctx context.Context, step duban.RoundStep) (bool, error) {
	doc, err := json.Marshal(step)
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO round_steps (round, level, due_at, recorded_at, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (round, level) DO NOTHING`, step.Round, step.Level, step.DueAt, step.RecordedAt, doc)
	return tag.RowsAffected() == 1, err
}

// RecordInspection records a site's inspection in its round. One there
// already is left as it is and answered, created false.
func (s *Store) RecordInspection(ctx context.Context, in duban.SiteInspection) (duban.SiteInspection, bool, error) {
	doc, err := json.Marshal(in)
	if err != nil {
		return duban.SiteInspection{}, false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO inspections (round, site, type, unit, area, inspector, at, recorded_at, score, passed, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (round, site) DO NOTHING`,
		in.Round, in.Site, in.Type, nullable(in.Unit), nullable(in.Area), in.Inspector, in.At, in.RecordedAt, in.Score, in.Passed, doc)
	if err != nil {
		return duban.SiteInspection{}, false, err
	}
	if tag.RowsAffected() == 1 {
		return in, true, nil
	}
	stored, err := s.Inspection(ctx, in.Round, in.Site)
	if err == nil && stored == nil {
		err = fmt.Errorf("inspection of %s in %s neither recorded nor found", in.Site, in.Round)
	}
	if err != nil {
		return duban.SiteInspection{}, false, err
	}
	return *stored, false, nil
}

// Inspection returns site's inspection in round; nil when there is none.
func (s *Store) Inspection(ctx context.Context, round, site string) (*duban.SiteInspection, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM inspections WHERE round = $1 AND site = $2`, round, site).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, readErr(err)
	}
	var in duban.SiteInspection
	if err := json.Unmarshal(doc, &in); err != nil {
		return nil, fmt.Errorf("decode inspection: %w", err)
	}
	return &in, nil
}

// LastFinding returns the last case opened for item at site but the case
// except; nil when there is none. A case cancelled as invalid or as a
// duplicate found nothing, and does not count.
func (s *Store) LastFinding(ctx context.Context, site, item, except string) (*duban.LastFinding, error) {
	var last duban.LastFinding
	err := s.pool.QueryRow(ctx, `SELECT id::text, opened_at, coalesce((doc->'found'->>'recurrence')::int, 1) FROM cases
		WHERE site = $1 AND item = $2 AND id::text <> $3 AND coalesce(doc->>'outcome', '') NOT IN ('invalid', 'duplicate')
		ORDER BY opened_at DESC, id DESC LIMIT 1`, site, item, except).Scan(&last.Case, &last.OpenedAt, &last.Recurrence)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, readErr(err)
	}
	last.OpenedAt = last.OpenedAt.UTC()
	return &last, nil
}
