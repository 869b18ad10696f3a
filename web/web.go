// Package web is the office web: the pages supervisors, units' clerks and
// inspectors work in, served by the API process outside /v1.
//
// It is a door like the JSON API and decides nothing: each page reads
// through the application layer (package app) what the signed-in person may
// see, and each form builds a domain command and gives it to the same
// app.Service the API does, which refuses or runs it. Pages are rendered on
// the server with html/template from templates and assets embedded in the
// binary (no CDN: an office network may have no internet); every string
// comes from the message catalogue (package messages) of the page's
// language (zh by default, en by Accept-Language or the switch), and every
// time is shown in the policy's time zone. The one script, static/live.js, keeps the board
// current from the event stream; the pages work without it.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
	"github.com/duban/duban/media"
	"github.com/duban/duban/messages"
)

//go:embed templates static
var files embed.FS

// Server serves the office pages.
type Server struct {
	App    *app.Service
	Policy *duban.Policy
	Logger *slog.Logger
	// Now is the clock pages show time left against (default time.Now).
	Now func() time.Time
	// TrustedProxies are the reverse proxies in front of duban whose
	// X-Forwarded-For names the client (clientAddr): wrong passwords are
	// counted by the client's address, not the proxy's.
	TrustedProxies []netip.Prefix

	pages    map[string]*template.Template
	catalogs map[string]messages.Catalog
	zone     *time.Location
	views    viewCache
	rows     drawnCache // the board's
}

func (s *Server) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Handler returns the pages' routes.
func (s *Server) Handler() (http.Handler, error) {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	var err error
	if s.catalogs, err = messages.Load(); err != nil {
		return nil, err
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.zone = s.Policy.Location()
	r := chi.NewRouter()
	// Pages and assets are compressed: a board of a thousand cases is
	// some 350 KB of HTML and 30 KB sent.
	r.Use(secureHeaders, limitForms, middleware.Compress(5, "text/html", "text/css", "text/javascript"))
	static, _ := fs.Sub(files, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", staticFiles(static)))
	r.Get("/lang", s.switchLanguage)
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/icon-192.png", http.StatusMovedPermanently)
	})
	r.Get("/login", s.loginPage)
	r.Post("/login", s.login)
	r.Get("/field-sw.js", fieldAsset("field-sw.js", "text/javascript; charset=utf-8"))
	r.Get("/field.webmanifest", fieldAsset("field.webmanifest", "application/manifest+json"))
	r.Get("/field/session", s.fieldSession)
	r.Get("/report", s.reportPage)
	r.Post("/report", s.postReport)
	r.Get("/r/{token}", s.followPage)
	r.Post("/r/{token}/rating", s.rate)
	r.Group(func(r chi.Router) {
		r.Use(s.signedIn)
		r.Get("/", s.home)
		r.Get("/logout", s.logoutPage)
		r.Post("/logout", s.logout)
		r.Get("/board", s.board)
		r.Get("/map", s.cityMap)
		r.Get("/cases", s.cases)
		r.Get("/cases.csv", s.casesCSV)
		r.Get("/cases/new", s.newCasePage)
		r.Post("/cases/new", s.openCase)
		r.Get("/cases/{id}", s.casePage)
		r.Get("/photos/{id}", s.photo)
		r.Post("/cases/{id}/{command}", s.command)
		r.Get("/inbox", s.inbox)
		r.Get("/field", s.fieldPage)
		r.Get("/reports", s.reports)
		r.Get("/reports/units.csv", s.reportCSV)
		r.Get("/reports/sites", s.siteReport)
		r.Get("/reports/sites.csv", s.siteReportCSV)
		r.Get("/reports/figure", s.figureCases)
		r.Get("/reports/bulletins/{period}", s.bulletin)
		r.Get("/reports/honours", s.honoursHistory)
		r.Get("/sanctions", s.sanctionsPage)
		r.Post("/sanctions/{id}/done", s.sanctionDone)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		// Signed in, the page keeps its navigation: a wrong link is not a
		// dead end.
		if sess, err := s.cookieSession(r); err == nil {
			r = r.WithContext(context.WithValue(r.Context(), sessionKey, sess))
		}
		s.fail(w, r, duban.Errorf(duban.ENOTFOUND, "no such page"))
	})
	return r, nil
}

// contentSecurityPolicy lets a page load only duban's own scripts, styles
// and images: no inline script, so that text that slipped through as markup
// could not run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// maxFormBytes bounds a form: its longest texts are a few thousand
// characters. A form with a photo (multipart) may hold one file besides.
const maxFormBytes = 64 << 10

// limitForms reads no more of a request's body than a form may hold, and
// gives a form with a photo the time a slow phone connection needs.
func limitForms(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxFormBytes)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			limit += media.MaxSize
			if r.URL.Path == "/report" { // a resident's report: its photos
				limit += (api.MaxReportPhotos - 1) * media.MaxSize
			}
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(api.TransferTime))
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// parseForm reads a posted form, with its photo if it has one; a photo
// past the limit is refused as such (413).
func parseForm(r *http.Request) error {
	err := r.ParseMultipartForm(32 << 20)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, http.ErrNotMultipart):
		return nil
	case errors.As(err, &tooLarge):
		return duban.Errorf(duban.ETOOLARGE, "the photo is larger than 20 MiB")
	}
	return duban.Errorf(duban.EINVALID, "the form could not be read: %v", err)
}

// takePhoto stores the photo a form carries (its field "photo"), if any,
// through the application layer, and adds its id to the form's
// "attachment" values: the command refers to it, and a form drawn again
// after a refusal keeps it without sending it again.
func (s *Server) takePhoto(r *http.Request) error {
	if r.MultipartForm == nil {
		return nil
	}
	f, header, err := r.FormFile("photo")
	if errors.Is(err, http.ErrMissingFile) {
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	a, err := s.App.Upload(r.Context(), session(r).Principal, f, header.Filename)
	if err != nil {
		return err
	}
	r.PostForm.Add("attachment", a.ID)
	return nil
}

// staticFiles serves the embedded assets, cached for an hour; no listing
// of them.
func staticFiles(root fs.FS) http.Handler {
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

type ctxKey int

const sessionKey ctxKey = iota

// signedIn lets through the requests of a signed-in person; others go to
// the sign-in page, and come back after it. A form posted from another
// site never gets here: http.CrossOriginProtection refuses it before
// (api.Server.Handler), and the session cookie is SameSite=Lax.
func (s *Server) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.cookieSession(r)
		if duban.ErrorCode(err) == duban.EUNAUTHORIZED {
			if r.Method != http.MethodGet {
				s.fail(w, r, err)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
		if r.Method == http.MethodPost {
			if err := parseForm(r); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey, sess)))
	})
}

// cookieSession is the session the request's cookie names (EUNAUTHORIZED
// without one).
func (s *Server) cookieSession(r *http.Request) (app.Session, error) {
	var id string
	if c, err := r.Cookie(app.SessionCookie); err == nil {
		id = c.Value
	}
	return s.App.Session(r.Context(), id)
}

func session(r *http.Request) app.Session {
	sess, _ := r.Context().Value(sessionKey).(app.Session)
	return sess
}

// home sends each role to where its day starts.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, homeOf(session(r).Principal), http.StatusSeeOther)
}

func homeOf(p duban.Principal) string {
	switch {
	case p.Oversees():
		return "/board"
	case p.Role == duban.RoleUnit:
		return "/inbox"
	}
	return "/cases"
}

// render writes page name with data, whole, or only its part (the board's
// live region) when part is set.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t, ok := s.pages[name]
	if !ok {
		panic("web: no page " + name)
	}
	var b bytes.Buffer
	what := "layout"
	if p.Part != "" {
		what = p.Part
	}
	if err := t.ExecuteTemplate(&b, what, p); err != nil {
		s.Logger.Error("render "+name, "error", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// fail shows a refusal or a failure as a page in the reader's language;
// the details of an internal failure are logged, never shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := api.Status(err)
	if status >= 500 {
		s.Logger.Error("page: "+r.Method+" "+r.URL.Path, "error", err)
	}
	p := s.newPage(r, "error.title")
	p.Problem = s.problem(p, err)
	s.render(w, r, status, "error", p)
}

// overTLS reports whether the browser reached duban over TLS: duban's own,
// or a proxy's in front of it that says so. Cookies are then Secure. (A
// client that claims TLS falsely only keeps its own cookies from coming back.)
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// localPath returns next when it is a path on this site, else fallback:
// a sign-in must not send anyone elsewhere.
func localPath(next, fallback string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return fallback
	}
	return next
}
