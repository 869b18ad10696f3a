package postgres

import (
	"context"
	"encoding/json"
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

// Attachment returns what is recorded of an attachment.
func (s *Store) Attachment(ctx context.Context, id string) (app.Attachment, error) {
	var a app.Attachment
	var width, height *int
	var lat, lon *float64
	err := s.pool.QueryRow(ctx, `SELECT id, content_type, size, width, height, taken_at, lat, lon, name, uploaded_by, uploaded_at,
		derived, thumbnail, stripped
		FROM attachments WHERE id = $1`, id).Scan(&a.ID, &a.ContentType, &a.Size, &width, &height, &a.TakenAt, &lat, &lon,
		&a.Name, &a.UploadedBy, &a.UploadedAt, &a.Derived, &a.Thumbnail, &a.Stripped)
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

// AttachmentCases returns the cases whose events' evidence names id.
func (s *Store) AttachmentCases(ctx context.Context, id string) ([]string, error) {
	match, err := json.Marshal([]map[string]string{{"attachment": id}})
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT case_id::text FROM events WHERE data -> 'evidence' @> $1::jsonb ORDER BY 1`, string(match))
	if err != nil {
		return nil, readErr(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, readErr(err)
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
