package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/duban/duban"
	"github.com/duban/duban/blobs"
	"github.com/duban/duban/media"
)

// Attachment is a stored file (a photo, a PDF): what its bytes said when
// it was uploaded. Its id is the bytes' SHA-256: the same bytes stored
// twice are one attachment.
type Attachment struct {
	ID          string     `json:"id"`
	ContentType string     `json:"content_type"`
	Size        int64      `json:"size"`
	Width       int        `json:"width,omitempty"`
	Height      int        `json:"height,omitempty"`
	TakenAt     *time.Time `json:"taken_at,omitempty"`
	Location    *media.GPS `json:"location,omitempty"`
	// Name is the file's name as uploaded, for people; nothing is read
	// from it.
	Name       string    `json:"name,omitempty"`
	UploadedBy string    `json:"-"`
	UploadedAt time.Time `json:"uploaded_at"`
	// Thumbnail says the attachment has a thumbnail (JPEG, PNG and WebP
	// photos do, once made). Derived says its thumbnail and its copy
	// without metadata (for those who see the case but are not its
	// participants) have been made and stored; Stripped that there is
	// such a copy (the file had metadata to remove).
	Thumbnail bool `json:"thumbnail"`
	Derived   bool `json:"-"`
	Stripped  bool `json:"-"`
}

// AttachmentStore keeps what duban knows of stored attachments.
type AttachmentStore interface {
	// PutAttachment records an attachment whose file is stored; a second
	// record of the same id changes nothing. Derived records that its
	// derived blobs are stored (Thumbnail, Stripped).
	PutAttachment(ctx context.Context, a Attachment) error
	Derived(ctx context.Context, id string, thumbnail, stripped bool) error
	// Attachment returns one; ENOTFOUND when there is none.
	Attachment(ctx context.Context, id string) (Attachment, error)
	// AttachmentAccess returns one and the cases whose events refer to it,
	// in the order of their ids (what decides who sees it).
	AttachmentAccess(ctx context.Context, id string) (Attachment, []AttachmentCase, error)
}

// AttachmentCase is a case that refers to an attachment, with what decides
// who sees the attachment.
type AttachmentCase struct {
	ID, Unit, Reporter string
}

// BlobStore keeps the attachments' bytes (package blobs): written whole or
// not at all.
type BlobStore interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
}

// The blobs of an attachment: the file as uploaded, its thumbnail, and
// the copy without metadata.
func originalKey(id string) string  { return "sha256/" + strings.TrimPrefix(id, "sha256:") }
func thumbnailKey(id string) string { return "thumbnail/" + strings.TrimPrefix(id, "sha256:") + ".jpg" }
func strippedKey(id string) string  { return "stripped/" + strings.TrimPrefix(id, "sha256:") }

// OriginalKey is the blob key of an attachment's bytes as uploaded: what
// an audit hashes.
func OriginalKey(id string) string { return originalKey(id) }

// Upload stores a file by: its type read from its bytes (JPEG, PNG, WebP,
// HEIC or PDF, up to 20 MiB; EMEDIATYPE for another, ETOOLARGE for a
// larger, EINVALID for one cut short, too large to decode or whose EXIF
// lies) and its EXIF time and place. The file is stored before the
// attachment is recorded, so a command can refer to it only once it is
// whole. Its thumbnail and its copy without metadata are made when first
// asked for (derive): decoding a photo costs ten times what storing it
// does, and many are never looked at by anyone but their participants.
// name is kept for people (a name with a path in it is refused).
func (s *Service) Upload(ctx context.Context, by duban.Principal, body io.Reader, name string) (Attachment, error) {
	if err := by.MayUpload(); err != nil {
		return Attachment{}, err
	}
	if err := s.attachmentsServed(); err != nil {
		return Attachment{}, err
	}
	if err := checkFileName(name); err != nil {
		return Attachment{}, err
	}
	var spool blobs.Spool
	if sp, ok := s.Blobs.(spooler); ok {
		var err error
		if spool, err = sp.Spool(ctx); err != nil {
			return Attachment{}, err
		}
	}
	kept := false
	defer func() {
		if spool != nil && !kept {
			spool.Discard()
		}
	}()
	buf := uploads.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= 8<<20 {
			uploads.Put(buf)
		}
	}()
	data, sum, err := receive(body, (*buf)[:0], spool)
	*buf = data[:0]
	if err != nil {
		return Attachment{}, err
	}
	id := "sha256:" + hex.EncodeToString(sum)
	if a, err := s.Attachments.Attachment(ctx, id); err == nil {
		return a, nil // the same bytes: stored already
	} else if duban.ErrorCode(err) != duban.ENOTFOUND {
		return Attachment{}, err
	}
	info, err := media.Inspect(data, s.zone())
	if err != nil {
		return Attachment{}, mediaRefusal(err)
	}
	a := Attachment{ID: id, ContentType: info.ContentType, Size: int64(len(data)), Width: info.Width, Height: info.Height,
		TakenAt: info.TakenAt, Location: info.Location, Name: name, UploadedBy: by.ID, UploadedAt: s.now().UTC().Truncate(time.Millisecond),
		Thumbnail: thumbnailed(info.ContentType)}
	if spool != nil {
		kept = true // Keep discards what it fails to keep
		err = spool.Keep(originalKey(id))
	} else {
		err = s.Blobs.Put(ctx, originalKey(id), bytes.NewReader(data), int64(len(data)), a.ContentType)
	}
	if err != nil {
		return Attachment{}, err
	}
	if err := s.Attachments.PutAttachment(ctx, a); err != nil {
		return Attachment{}, err
	}
	return a, nil
}

// spooler is a BlobStore that takes a blob's bytes before its key is
// known (blobs.Dir): an upload is written as it arrives, and named by its
// hash once whole.
type spooler interface {
	Spool(ctx context.Context) (blobs.Spool, error)
}

// spoolEvery is how much of an upload is gathered before it is written to
// its spool: a write per read of the body (a few KiB) would be hundreds of
// system calls.
const spoolEvery = 256 << 10

// uploads are the buffers uploads are received in, kept for the next: a
// fresh 2 MiB for each photo is page faults and collections.
var uploads = sync.Pool{New: func() any { b := make([]byte, 0, 4<<20); return &b }}

// receive reads a file of at most media.MaxSize bytes from body in one
// pass: appended to data (what media.Inspect reads), through its SHA-256,
// and into spool if there is one, each piece while it is still in the
// cache.
func receive(body io.Reader, data []byte, spool blobs.Spool) (_, sum []byte, err error) {
	h := sha256.New()
	spooled := 0
	for {
		if len(data) == cap(data) {
			data = slices.Grow(data, cap(data)) // doubling: few copies for a photo
		}
		n, err := body.Read(data[len(data):min(cap(data), media.MaxSize+1)])
		h.Write(data[len(data) : len(data)+n])
		data = data[:len(data)+n]
		if len(data) > media.MaxSize {
			return data, nil, duban.Errorf(duban.ETOOLARGE, "the file is larger than 20 MiB")
		}
		if spool != nil && (len(data)-spooled >= spoolEvery || err == io.EOF) {
			if _, werr := spool.Write(data[spooled:]); werr != nil {
				return data, nil, werr
			}
			spooled = len(data)
		}
		if err == io.EOF {
			return data, h.Sum(nil), nil
		} else if err != nil {
			return data, nil, err
		}
	}
}

// deriving bounds the attachments whose thumbnails are made at once:
// decoding a large photo takes memory (a 50-megapixel one, 200 MB).
var deriving = make(chan struct{}, 2)

// thumbnailed reports whether files of the type get a thumbnail: the
// photos duban decodes (not HEIC's HEVC, not a PDF).
func thumbnailed(contentType string) bool {
	return contentType == media.JPEG || contentType == media.PNG || contentType == media.WebP
}

// derive makes and stores attachment a's thumbnail and its copy without
// metadata, and records them. A photo that cannot be decoded whole gets no
// thumbnail. Made twice (two requests at once), the same bytes are
// written twice.
func (s *Service) derive(ctx context.Context, a Attachment) (Attachment, error) {
	select {
	case deriving <- struct{}{}:
		defer func() { <-deriving }()
	case <-ctx.Done():
		return a, ctx.Err()
	}
	r, _, err := s.Blobs.Get(ctx, originalKey(a.ID))
	if err != nil {
		return a, err
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return a, err
	}
	info, err := media.Inspect(data, s.zone())
	if err != nil {
		return a, err
	}
	a.Thumbnail = false
	if thumbnailed(a.ContentType) {
		if thumb, err := media.Thumbnail(data, info); err != nil {
			s.logger().Warn("an attachment has no thumbnail: its image does not decode", "attachment", a.ID, "error", err)
		} else if err := s.Blobs.Put(ctx, thumbnailKey(a.ID), bytes.NewReader(thumb), int64(len(thumb)), media.JPEG); err != nil {
			return a, err
		} else {
			a.Thumbnail = true
		}
	}
	out, ok, err := media.Strip(a.ContentType, data)
	if err != nil {
		return a, err
	}
	if a.Stripped = ok && !bytes.Equal(out, data); a.Stripped {
		if err := s.Blobs.Put(ctx, strippedKey(a.ID), bytes.NewReader(out), int64(len(out)), a.ContentType); err != nil {
			return a, err
		}
	}
	a.Derived = true
	return a, s.Attachments.Derived(ctx, a.ID, a.Thumbnail, a.Stripped)
}

// checkFileName refuses a name no file could have been uploaded with: one
// holding a path, control characters, or too long.
func checkFileName(name string) error {
	switch {
	case len(name) > 255:
		return duban.Errorf(duban.EINVALID, "the file's name is longer than 255 bytes")
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return duban.Errorf(duban.EINVALID, "the file's name %q holds a path: send the name alone", name)
	case strings.ContainsFunc(name, unicode.IsControl):
		return duban.Errorf(duban.EINVALID, "the file's name holds control characters")
	}
	return nil
}

// mediaRefusal says media's refusal as duban's.
func mediaRefusal(err error) error {
	var e *media.Error
	if !errors.As(err, &e) {
		return err
	}
	if e.Unsupported {
		return duban.Errorf(duban.EMEDIATYPE, "%s", e.Msg)
	}
	return duban.Errorf(duban.EINVALID, "%s", e.Msg)
}

// Blob is an attachment's bytes as served to someone: the file, or its
// copy without metadata, or its thumbnail.
type Blob struct {
	Attachment
	// Key names the bytes served, which never change under it.
	Key         string
	ContentType string
	Body        io.ReadCloser
	Size        int64
}

// AttachmentFile opens attachment id for by, who must be its uploader or
// see a case that refers to it: as uploaded for its uploader and the
// case's participants (duban.Principal.SeesWholeEvidence), else the copy
// without where and when it was taken. An HEIC, which duban cannot strip,
// only its participants see. With thumbnail, the thumbnail, which holds
// no metadata (ENOTFOUND for the types that have none).
func (s *Service) AttachmentFile(ctx context.Context, by duban.Principal, id string, thumbnail bool) (Blob, error) {
	if err := s.attachmentsServed(); err != nil {
		return Blob{}, err
	}
	a, whole, err := s.attachmentFor(ctx, by, id)
	if err != nil {
		return Blob{}, err
	}
	if !a.Derived && (thumbnail || !whole) {
		if a, err = s.derive(ctx, a); err != nil {
			return Blob{}, err
		}
	}
	key, contentType := originalKey(id), a.ContentType
	switch {
	case thumbnail && !a.Thumbnail:
		return Blob{}, duban.Errorf(duban.ENOTFOUND, "a %s has no thumbnail: duban makes them of JPEG, PNG and WebP photos", a.ContentType)
	case thumbnail:
		key, contentType = thumbnailKey(id), media.JPEG
	case !whole && a.Stripped:
		key = strippedKey(id)
	case !whole && a.ContentType == media.HEIC:
		return Blob{}, duban.Errorf(duban.EFORBIDDEN, "an HEIC photo keeps where it was taken and duban cannot remove it: only the case's reporter, its unit and the office see it (its thumbnail neither, HEIC has none)")
	}
	body, size, err := s.Blobs.Get(ctx, key)
	if err != nil {
		return Blob{}, err
	}
	return Blob{Attachment: a, Key: key, ContentType: contentType, Body: body, Size: size}, nil
}

// attachmentFor returns attachment id if by may see it, and whether whole.
// One it may not see does not exist for it.
func (s *Service) attachmentFor(ctx context.Context, by duban.Principal, id string) (Attachment, bool, error) {
	notFound := duban.Errorf(duban.ENOTFOUND, "attachment not found")
	if !duban.AttachmentID(id) {
		return Attachment{}, false, notFound
	}
	a, cases, err := s.Attachments.AttachmentAccess(ctx, id)
	if err != nil {
		return Attachment{}, false, err
	}
	if a.UploadedBy == by.ID {
		return a, true, nil
	}
	seen := false
	for _, c := range cases {
		if by.CanSeeAssigned(c.Unit) {
			if by.SeesWholeEvidence(c.Unit, c.Reporter) {
				return a, true, nil
			}
			seen = true
		}
	}
	if !seen {
		return Attachment{}, false, notFound
	}
	return a, false, nil
}

// AttachmentInfo returns what is known of attachment id, if by may see it
// (its time and place only if by sees it whole).
func (s *Service) AttachmentInfo(ctx context.Context, by duban.Principal, id string) (Attachment, error) {
	if err := s.attachmentsServed(); err != nil {
		return Attachment{}, err
	}
	a, whole, err := s.attachmentFor(ctx, by, id)
	if !whole {
		a.TakenAt, a.Location = nil, nil
	}
	return a, err
}

// storedAttachments gives a command with evidence the fact of which of its
// attachments are stored.
func (s *Service) storedAttachments(ctx context.Context, evidence []duban.Evidence) ([]string, error) {
	var stored []string
	for _, id := range duban.Attachments(evidence) {
		if !duban.AttachmentID(id) || s.Attachments == nil {
			continue // Decide says what is wrong with it
		}
		if _, err := s.Attachments.Attachment(ctx, id); err == nil {
			stored = append(stored, id)
		} else if duban.ErrorCode(err) != duban.ENOTFOUND {
			return nil, err
		}
	}
	return stored, nil
}

func (s *Service) attachmentsServed() error {
	if s.Attachments == nil || s.Blobs == nil {
		return duban.Errorf(duban.ENOTFOUND, "this duban stores no attachments")
	}
	return nil
}

// zone is where a photo's EXIF time without an offset was taken: the
// policy's time zone.
func (s *Service) zone() *time.Location { return s.Policy.Location() }
