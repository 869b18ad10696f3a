package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/media"
)

// PutAttachment records an attachment whose blobs are stored; a second
// record of the same id changes nothing.
func (s *Store) PutAttachment(ctx context.Context, a app.Attachment) error {
	var lat, lon *float64
	if a.Location != nil {
		lat, lon = &a.Location.Lat, &a.Location.Lon
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO attachments (id, content_type, size, width, height, taken_at, lat, lon, name, uploaded_by, uploaded_at, thumbnail)
		VALUES ($1, $2, $3, nullif($4, 0), nullif($5, 0), $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`,
		a.ID, a.ContentType, a.Size, a.Width, a.Height, a.TakenAt, lat, lon, a.Name, a.UploadedBy, a.UploadedAt, a.Thumbnail)
	return readErr(err)
}

// Derived records that an attachment's thumbnail (if any) and its copy
// without metadata (if any) are stored.
func (s *Store) Derived(ctx context.Context, id string, thumbnail, stripped bool) error {
	_, err := s.pool.Exec(ctx, `UPDATE attachments SET derived = true, thumbnail = $2, stripped = $3 WHERE id = $1`, id, thumbnail, stripped)
	return readErr(err)
}

// attachmentSQL reads an attachment's row, as scanAttachment scans it.
const attachmentSQL = `SELECT id, content_type, size, width, height, taken_at, lat, lon, name, uploaded_by, uploaded_at,
	derived, thumbnail, stripped FROM attachments WHERE id = $1`

// scanAttachment scans a row of attachmentSQL's columns, and more into
// more.
func scanAttachment(row pgx.Row, more ...any) (app.Attachment, error) {
	var a app.Attachment
	var width, height *int
	var lat, lon *float64
	err := row.Scan(append([]any{&a.ID, &a.ContentType, &a.Size, &width, &height, &a.TakenAt, &lat, &lon,
		&a.Name, &a.UploadedBy, &a.UploadedAt, &a.Derived, &a.Thumbnail, &a.Stripped}, more...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return app.Attachment{}, duban.Errorf(duban.ENOTFOUND, "attachment not found")
	} else if err != nil {
		return app.Attachment{}, readErr(err)
	}
	if width != nil && height != nil {
		a.Width, a.Height = *width, *height
	}
	if lat != nil && lon != nil {
		a.Location = &media.GPS{Lat: *lat, Lon: *lon}
	}
	return a, nil
}

// Attachment returns what is recorded of an attachment.
func (s *Store) Attachment(ctx context.Context, id string) (app.Attachment, error) {
	return scanAttachment(s.pool.QueryRow(ctx, attachmentSQL, id))
}

// AttachmentAccess returns an attachment and the cases whose events'
// evidence names it, in one query.
func (s *Store) AttachmentAccess(ctx context.Context, id string) (app.Attachment, []app.AttachmentCase, error) {
	var ids, units, reporters []string
	a, err := scanAttachment(s.pool.QueryRow(ctx, `SELECT a.id, a.content_type, a.size, a.width, a.height, a.taken_at, a.lat, a.lon,
		a.name, a.uploaded_by, a.uploaded_at, a.derived, a.thumbnail, a.stripped,
		coalesce(array_agg(c.id::text ORDER BY c.id) FILTER (WHERE c.id IS NOT NULL), '{}'),
		coalesce(array_agg(coalesce(c.unit, '') ORDER BY c.id) FILTER (WHERE c.id IS NOT NULL), '{}'),
		coalesce(array_agg(c.reporter ORDER BY c.id) FILTER (WHERE c.id IS NOT NULL), '{}')
		FROM attachments a
		LEFT JOIN LATERAL (SELECT DISTINCT case_id FROM events
			WHERE data ? 'evidence' AND data -> 'evidence' @> jsonb_build_array(jsonb_build_object('attachment', a.id))) e ON true
		LEFT JOIN cases c ON c.id = e.case_id
		WHERE a.id = $1 GROUP BY a.id`, id), &ids, &units, &reporters)
	if err != nil {
		return app.Attachment{}, nil, err
	}
	cases := make([]app.AttachmentCase, len(ids))
	for i := range ids {
		cases[i] = app.AttachmentCase{ID: ids[i], Unit: units[i], Reporter: reporters[i]}
	}
	return a, cases, nil
}

// Attachments returns every attachment the events refer to, each once:
// what an audit checks against the blob store.
func (s *Store) Attachments(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT e ->> 'attachment' FROM events, jsonb_array_elements(data -> 'evidence') AS e
		WHERE jsonb_typeof(data -> 'evidence') = 'array' AND e ? 'attachment' ORDER BY 1`)
	if err != nil {
		return nil, readErr(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, readErr(err)
}
