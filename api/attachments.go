package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/media"
)

// AttachmentKeeper stores attachments and serves them to those who may see
// them.
type AttachmentKeeper interface {
	Upload(ctx context.Context, by duban.Principal, body io.Reader, name string) (app.Attachment, error)
	AttachmentFile(ctx context.Context, by duban.Principal, id string, thumbnail bool) (app.Blob, error)
}

const (
	// multipartSlack is what a multipart body may hold beside its file.
	multipartSlack = 1 << 20
	// TransferTime bounds an upload or a download of an attachment (the
	// office pages' forms with a photo too).
	TransferTime = 10 * time.Minute
)

// upload serves POST /v1/attachments: multipart/form-data with the file in
// the field "file". It answers 201 with what the file's bytes say of it
// (the same answer for the same bytes sent again).
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	if s.Attachments == nil {
		fail(w, r, duban.Errorf(duban.ENOTFOUND, "this duban stores no attachments"))
		return
	}
	// A phone on a slow network takes minutes over 20 MiB: more than the
	// server's read timeout for other requests.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(TransferTime))
	r.Body = http.MaxBytesReader(w, r.Body, media.MaxSize+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		fail(w, r, duban.Errorf(duban.EMEDIATYPE, "send multipart/form-data with the file in the field \"file\""))
		return
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			fail(w, r, duban.Errorf(duban.EINVALID, "no field \"file\" in the form"))
			return
		} else if err != nil {
			fail(w, r, bodyError(err))
			return
		}
		if part.FormName() != "file" {
			continue
		}
		a, err := s.Attachments.Upload(r.Context(), principal(r), part, rawFileName(part.Header.Get("Content-Disposition")))
		if err != nil {
			fail(w, r, bodyError(err))
			return
		}
		reply(w, http.StatusCreated, a)
		return
	}
}

// rawFileName is the file name a part was sent with, as sent:
// multipart.Part.FileName keeps only its last element, and a name with a
// path in it is refused, not quietly shortened.
func rawFileName(disposition string) string {
	_, params, err := mime.ParseMediaType(disposition)
	if err != nil {
		return ""
	}
	return params["filename"]
}

// bodyError says a body read past its limit as ETOOLARGE.
func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return duban.Errorf(duban.ETOOLARGE, "the file is larger than 20 MiB")
	}
	return err
}

// attachment serves GET /v1/attachments/{id}; thumbnail its thumbnail.
func (s *Server) attachment(w http.ResponseWriter, r *http.Request) { s.serveAttachment(w, r, false) }
func (s *Server) thumbnail(w http.ResponseWriter, r *http.Request)  { s.serveAttachment(w, r, true) }

func (s *Server) serveAttachment(w http.ResponseWriter, r *http.Request, thumbnail bool) {
	if s.Attachments == nil {
		fail(w, r, duban.Errorf(duban.ENOTFOUND, "this duban stores no attachments"))
		return
	}
	b, err := s.Attachments.AttachmentFile(r.Context(), principal(r), chi.URLParam(r, "id"), thumbnail)
	if err != nil {
		fail(w, r, err)
		return
	}
	// A thumbnail's URL names its bytes, the same for whoever may see
	// them; the file at an attachment's URL is whole or stripped by who
	// asks, which can change.
	serveBlob(w, r, b, thumbnail)
}

// serveBlob sends an attachment's bytes: an original, a copy without
// metadata or a thumbnail, with their key as a strong ETag (the bytes
// under a key never change), answering conditional and range requests
// (http.ServeContent, for a file, which the kernel sends). immutable says the
// URL always answers these bytes to whoever may see them.
func serveBlob(w http.ResponseWriter, r *http.Request, b app.Blob, immutable bool) {
	defer b.Body.Close()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(TransferTime))
	h := w.Header()
	h.Set("Content-Type", b.ContentType)
	h.Set("ETag", `"`+b.Key+`"`)
	// Who may read them can change: private, and checked again at least
	// daily where the URL's bytes depend on who asks.
	cache := "private, max-age=86400"
	if immutable {
		cache = "private, max-age=31536000, immutable"
	}
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; sandbox")
	if b.ContentType == media.PDF {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": pdfName(b.Name)}))
	}
	if f, ok := b.Body.(*os.File); ok { // a directory's blob (an S3 object would be fetched twice)
		http.ServeContent(w, r, "", time.Time{}, f)
		return
	}
	h.Set("Content-Length", strconv.FormatInt(b.Size, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, b.Body)
}

func pdfName(name string) string {
	if name == "" {
		return "document.pdf"
	}
	return name
}
