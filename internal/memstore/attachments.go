package memstore

import (
	"context"
	"slices"
	"strings"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// PutAttachment records an attachment; a second record of the same id
// changes nothing.
func (s *Store) PutAttachment(_ context.Context, a app.Attachment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attached == nil {
		s.attached = map[string]app.Attachment{}
	}
	if _, ok := s.attached[a.ID]; !ok {
		s.attached[a.ID] = a
	}
	return nil
}

// Derived records that an attachment's derived blobs are stored.
func (s *Store) Derived(_ context.Context, id string, thumbnail, stripped bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.attached[id]; ok {
		a.Derived, a.Thumbnail, a.Stripped = true, thumbnail, stripped
		s.attached[id] = a
	}
	return nil
}

// Attachment returns what is recorded of an attachment.
func (s *Store) Attachment(_ context.Context, id string) (app.Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.attached[id]
	if !ok {
		return app.Attachment{}, duban.Errorf(duban.ENOTFOUND, "attachment not found")
	}
	return a, nil
}

// AttachmentAccess returns an attachment and the cases whose events'
// evidence names it.
func (s *Store) AttachmentAccess(ctx context.Context, id string) (app.Attachment, []app.AttachmentCase, error) {
	a, err := s.Attachment(ctx, id)
	if err != nil {
		return a, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []app.AttachmentCase
	for caseID, st := range s.cases {
		if slices.ContainsFunc(st.events, func(e duban.Event) bool { return slices.Contains(duban.Attachments(e.Evidence()), id) }) {
			out = append(out, app.AttachmentCase{ID: caseID, Unit: st.c.Unit, Reporter: st.c.Reporter})
		}
	}
	slices.SortFunc(out, func(a, b app.AttachmentCase) int { return strings.Compare(a.ID, b.ID) })
	return a, out, nil
}
