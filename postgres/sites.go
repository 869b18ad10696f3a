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

// AppendSite records a site command's events and the site after them in
// one transaction. It is refused (ECONFLICT) when the site is no longer
// at before.Version: someone else changed it meanwhile.
func (s *Store) AppendSite(ctx context.Context, before duban.Site, events []duban.SiteEvent) error {
	if len(events) == 0 {
		return nil
	}
	after := before
	for _, e := range events {
		after = duban.EvolveSite(after, e)
	}
	doc, err := json.Marshal(after)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, e := range events {
			actor, err := json.Marshal(e.Actor)
			if err != nil {
				return err
			}
			data, err := json.Marshal(e.Data)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO site_events (site_id, version, type, occurred_at, actor, data) VALUES ($1, $2, $3, $4, $5, $6)`,
				e.SiteID, e.Version, e.Type, e.OccurredAt, actor, data); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO sites (id, version, type, area, unit, active, updated_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET version = excluded.version, type = excluded.type, area = excluded.area, unit = excluded.unit,
				active = excluded.active, updated_at = excluded.updated_at, doc = excluded.doc`,
			after.ID, after.Version, after.Type, nullable(after.Area), nullable(after.Unit), after.Active, after.UpdatedAt, doc)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return duban.Errorf(duban.ECONFLICT, "site %s was changed meanwhile: read it again", before.ID)
	}
	return err
}

// Site returns a site; ENOTFOUND when there is none.
func (s *Store) Site(ctx context.Context, id string) (duban.Site, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM sites WHERE id = $1`, id).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return duban.Site{}, duban.Errorf(duban.ENOTFOUND, "site not found")
	} else if err != nil {
		return duban.Site{}, readErr(err)
	}
	var site duban.Site
	if err := json.Unmarshal(doc, &site); err != nil {
		return duban.Site{}, fmt.Errorf("site %s: %w", id, err)
	}
	return site, nil
}

// Sites lists the sites f selects, by id, and the id to list the next
// page after ("" on the last).
func (s *Store) Sites(ctx context.Context, f duban.SiteFilter) ([]duban.Site, string, error) {
	var q query
	for _, eq := range []struct{ col, val string }{{"type", f.Type}, {"area", f.Area}, {"unit", f.Unit}} {
		if eq.val != "" {
			q.and(eq.col + " = " + q.arg(eq.val))
		}
	}
	if f.Active != nil {
		q.and("active = " + q.arg(*f.Active))
	}
	if f.After != "" {
		q.and("id > " + q.arg(f.After))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, "SELECT doc FROM sites"+q.whereClause()+" ORDER BY id LIMIT "+q.arg(limit+1), q.args...)
	if err != nil {
		return nil, "", readErr(err)
	}
	sites, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (duban.Site, error) {
		var doc []byte
		var site duban.Site
		if err := row.Scan(&doc); err != nil {
			return site, err
		}
		return site, json.Unmarshal(doc, &site)
	})
	if err != nil || len(sites) <= limit {
		return sites, "", err
	}
	return sites[:limit], sites[limit-1].ID, nil
}

// SiteEvents returns a site's events in version order.
func (s *Store) SiteEvents(ctx context.Context, id string) ([]duban.SiteEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT site_id, version, type, occurred_at, actor, data FROM site_events WHERE site_id = $1 ORDER BY version`, id)
	if err != nil {
		return nil, readErr(err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (duban.SiteEvent, error) {
		var e duban.SiteEvent
		var actor, data []byte
		if err := row.Scan(&e.SiteID, &e.Version, &e.Type, &e.OccurredAt, &actor, &data); err != nil {
			return e, err
		}
		if err := json.Unmarshal(actor, &e.Actor); err != nil {
			return e, err
		}
		var err error
		e.Data, err = duban.DecodeSiteEventData(e.Type, data)
		e.OccurredAt = e.OccurredAt.UTC()
		return e, err
	})
}
