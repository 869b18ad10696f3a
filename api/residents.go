package api

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/media"
)

// ResidentDesk takes residents' reports and answers their follow links
// (SPEC, "Residents"): the doors without sign-in.
type ResidentDesk interface {
	MayPost(address, phone string) error
	Reporter(ctx context.Context, phone, key string) (duban.Principal, error)
	Upload(ctx context.Context, by duban.Principal, body io.Reader, name string) (app.Attachment, error)
	Report(ctx context.Context, by duban.Principal, r app.PublicReport, key string) (app.Reported, error)
	Follow(ctx context.Context, token string) (app.Followed, error)
	FollowPhoto(ctx context.Context, token string, n int, thumbnail bool) (app.Blob, error)
	Rate(ctx context.Context, token string, rating duban.Rating, comment string) (app.Followed, error)
	Leaderboard(ctx context.Context, at time.Time, n int) ([]duban.Leader, error)
	Redeem(ctx context.Context, by duban.Principal, phone string, points int, note string) (int, error)
}

// MaxReportPhotos bounds the photos of one resident's report.
const MaxReportPhotos = 6

// reportMemory is what a report's form is read into memory up to; the
// rest of its photos wait in temporary files.
const reportMemory = 8 << 20

// Reported is the answer to a resident's report.
type Reported struct {
	Token     string       `json:"token"`
	FollowURL string       `json:"follow_url"`
	Status    duban.Status `json:"status"`
	Number    string       `json:"number"`
}

// clientAddress is the address a request came from, as rate limits count
// it: the connection's peer.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ReadReport reads a resident's report from a multipart form (category,
// description, lat, lon, address?, phone?, one or more photo files) and
// files it through desk: the address's rate limit first, then the
// phone's, then each photo through the attachment checks, then the open.
// The public page's form and POST /v1/public/reports both come here.
func ReadReport(desk ResidentDesk, w http.ResponseWriter, r *http.Request, channel string) (app.Reported, error) {
	if err := desk.MayPost(clientAddress(r), ""); err != nil {
		return app.Reported{}, err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return app.Reported{}, err
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(TransferTime))
	r.Body = http.MaxBytesReader(w, r.Body, MaxReportPhotos*media.MaxSize+multipartSlack)
	if err := r.ParseMultipartForm(reportMemory); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return app.Reported{}, duban.Errorf(duban.ETOOLARGE, "a report holds at most %d photos of 20 MiB", MaxReportPhotos)
		}
		return app.Reported{}, duban.Errorf(duban.EMEDIATYPE, "send multipart/form-data: category, description, lat, lon, address, phone and photo files")
	}
	defer r.MultipartForm.RemoveAll()
	form := r.MultipartForm
	value := func(name string) string {
		if v := form.Value[name]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	var errs []duban.FieldError
	for name, v := range form.Value {
		if len(v) > 1 {
			errs = append(errs, duban.Field(name, "is given %d times", len(v)))
		}
	}
	loc := duban.Location{Address: value("address")}
	for _, c := range []struct {
		name string
		dst  *float64
	}{{"lat", &loc.Lat}, {"lon", &loc.Lon}} {
		v, err := strconv.ParseFloat(value(c.name), 64)
		if err != nil {
			errs = append(errs, duban.Field(c.name, "is required: a number, from the phone's GPS or the map"))
		}
		*c.dst = v
	}
	photos := form.File["photo"]
	if len(photos) > MaxReportPhotos {
		errs = append(errs, duban.Field("photo", "has too many files: at most %d", MaxReportPhotos))
	}
	if len(errs) > 0 {
		return app.Reported{}, duban.Invalid(errs...)
	}
	phone := value("phone")
	if err := desk.MayPost("", phone); err != nil {
		return app.Reported{}, err
	}
	by, err := desk.Reporter(r.Context(), phone, key)
	if err != nil {
		return app.Reported{}, err
	}
	report := app.PublicReport{Category: value("category"), Description: value("description"), Location: loc, Channel: channel}
	for i, fh := range photos {
		a, err := uploadPart(r.Context(), desk, by, fh)
		if err != nil {
			return app.Reported{}, photoError(i, err)
		}
		report.Evidence = append(report.Evidence, duban.Evidence{Attachment: a.ID, Kind: "photo"})
	}
	return desk.Report(r.Context(), by, report, key)
}

func uploadPart(ctx context.Context, desk ResidentDesk, by duban.Principal, fh *multipart.FileHeader) (app.Attachment, error) {
	f, err := fh.Open()
	if err != nil {
		return app.Attachment{}, err
	}
	defer f.Close()
	return desk.Upload(ctx, by, f, fh.Filename)
}

// photoError places a photo's refusal on its field: photo[i].
func photoError(i int, err error) error {
	var e *duban.Error
	if errors.As(err, &e) && (e.Code == duban.EINVALID || e.Code == duban.EMEDIATYPE || e.Code == duban.ETOOLARGE) {
		return &duban.Error{Code: e.Code, Message: e.Message, Text: e.Text, Fields: []duban.FieldError{{Field: "photo[" + strconv.Itoa(i) + "]", Message: e.Message, Text: e.Text}}}
	}
	return err
}

func (s *Server) residents(w http.ResponseWriter, r *http.Request) (ResidentDesk, bool) {
	if s.Residents == nil {
		fail(w, r, duban.Errorf(duban.ENOTFOUND, "this duban takes no residents' reports"))
		return nil, false
	}
	return s.Residents, true
}

func (s *Server) publicReport(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.residents(w, r)
	if !ok {
		return
	}
	a, err := ReadReport(desk, w, r, duban.ChannelWeb)
	if err != nil {
		fail(w, r, err)
		return
	}
	entry(r).caseID = a.Case.ID
	status := http.StatusOK
	if a.Created {
		status = http.StatusCreated
	}
	reply(w, status, Reported{Token: a.Token, FollowURL: "/r/" + a.Token, Status: a.Case.Status, Number: a.Case.Number})
}

func (s *Server) followReport(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.residents(w, r)
	if !ok {
		return
	}
	f, err := desk.Follow(r.Context(), chi.URLParam(r, "token"))
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, f)
}

type ratingRequest struct {
	Rating  duban.Rating `json:"rating"`
	Comment string       `json:"comment"`
}

func (s *Server) rateReport(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.residents(w, r)
	if !ok {
		return
	}
	var req ratingRequest
	if err := decode(r, &req, false); err != nil {
		fail(w, r, err)
		return
	}
	f, err := desk.Rate(r.Context(), chi.URLParam(r, "token"), req.Rating, req.Comment)
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, f)
}

func (s *Server) followPhoto(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.residents(w, r)
	if !ok {
		return
	}
	n, err := strconv.Atoi(chi.URLParam(r, "n"))
	if err != nil {
		fail(w, r, duban.Errorf(duban.ENOTFOUND, "the report has no photo %q", chi.URLParam(r, "n")))
		return
	}
	b, err := desk.FollowPhoto(r.Context(), chi.URLParam(r, "token"), n, r.URL.Query().Get("size") == "thumbnail")
	if err != nil {
		fail(w, r, err)
		return
	}
	serveBlob(w, r, b, false)
}

func (s *Server) leaderboard(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.residents(w, r)
	if !ok {
		return
	}
	at := s.Now()
	if m := r.URL.Query().Get("month"); m != "" {
		t, err := time.Parse("2006-01", m)
		if err != nil {
			fail(w, r, duban.Invalid(duban.Field("month", "must be a month, such as 2026-12")))
			return
		}
		at = t.Add(15 * 24 * time.Hour) // mid-month, whatever the time zone
	}
	leaders, err := desk.Leaderboard(r.Context(), at, 50)
	if err != nil {
		fail(w, r, err)
		return
	}
	if leaders == nil {
		leaders = []duban.Leader{}
	}
	reply(w, http.StatusOK, map[string]any{"month": at.Format("2006-01"), "items": leaders})
}

type redemptionRequest struct {
	Phone  string `json:"phone"`
	Points int    `json:"points"`
	Note   string `json:"note"`
}

func (s *Server) redeem(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.residents(w, r)
	if !ok {
		return
	}
	var req redemptionRequest
	if err := decode(r, &req, false); err != nil {
		fail(w, r, err)
		return
	}
	balance, err := desk.Redeem(r.Context(), principal(r), req.Phone, req.Points, req.Note)
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusCreated, map[string]int{"balance": balance})
}

type confirmRequest struct {
	Note        string `json:"note"`
	DuplicateOf string `json:"duplicate_of"`
}
