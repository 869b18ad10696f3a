// Package api is duban's JSON API: a chi router, bearer-token
// authentication, strict JSON in, problem+json out.
//
// It is a door and nothing more: each handler decodes its request, builds
// a domain command or read, hands it to the application layer (package
// app, behind the two interfaces below) and encodes the answer. Whether a
// command is allowed is decided in the domain (duban.Decide); what a
// principal may read, in duban's access rules.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/messages"
)

// CaseReader reads cases as a principal may see them.
type CaseReader interface {
	CaseView(ctx context.Context, by duban.Principal, id string) (app.Listed, error)
	Events(ctx context.Context, by duban.Principal, id string) ([]duban.Event, error)
	Cases(ctx context.Context, by duban.Principal, f duban.CaseFilter) ([]app.Listed, *duban.CaseCursor, error)
	Escalations(ctx context.Context, by duban.Principal, f duban.CaseFilter, after *duban.BoardCursor) ([]app.Listed, *duban.BoardCursor, error)
}

// ReportReader reads the scorecards, the bulletins and their sanctions as
// a principal may, and records a sanction's follow-up.
type ReportReader interface {
	UnitScorecards(ctx context.Context, by duban.Principal, r app.ReportRequest) (duban.Period, []duban.UnitRow, error)
	FigureCases(ctx context.Context, by duban.Principal, unit, figure string, r app.ReportRequest) ([]string, error)
	InspectorReport(ctx context.Context, by duban.Principal, r app.ReportRequest) (duban.Period, []duban.InspectorRow, error)
	Bulletins(ctx context.Context, by duban.Principal) ([]duban.Bulletin, error)
	Bulletin(ctx context.Context, by duban.Principal, period string) (duban.Bulletin, error)
	Sanctions(ctx context.Context, by duban.Principal, f duban.SanctionFilter) ([]duban.Sanction, error)
	Sanction(ctx context.Context, by duban.Principal, id string) (duban.Sanction, error)
	SanctionEvents(ctx context.Context, by duban.Principal, id string) ([]duban.SanctionEvent, error)
	SanctionDone(ctx context.Context, by duban.Principal, id, note string, at *time.Time) (duban.Sanction, error)
}

// SessionReader returns the session a browser's cookie names.
type SessionReader interface {
	Session(ctx context.Context, id string) (app.Session, error)
}

// CaseCommander gives commands to cases. key is the request's
// Idempotency-Key, or empty.
type CaseCommander interface {
	Open(ctx context.Context, cmd duban.OpenCase, key string) (app.Answer, error)
	Execute(ctx context.Context, caseID string, cmd duban.Command, key string) (app.Answer, error)
}

// Server serves the API.
type Server struct {
	// Policy authenticates bearer tokens.
	Policy   *duban.Policy
	Cases    CaseReader
	Commands CaseCommander
	Reports  ReportReader
	// Streams serve /v1/stream; Sessions let a signed-in browser use the
	// API, the stream above all, which an EventSource cannot send a bearer
	// token to, and the field page's reports.
	Streams  Streamer
	Sessions SessionReader
	// Subscriptions read and replay the outbox's failed deliveries.
	Subscriptions SubscriptionKeeper
	// Attachments store and serve photos and documents.
	Attachments AttachmentKeeper
	// Sites keeps the sites (点位).
	Sites SiteKeeper
	// Residents take residents' reports (nil: none are taken).
	Residents ResidentDesk
	// Pages serve everything outside /v1: the office web.
	Pages http.Handler
	// Metrics, when set, serves GET /metrics, and Instrument wraps every
	// route to count and time its requests.
	Metrics    http.Handler
	Instrument func(http.Handler) http.Handler
	// Ready are the dependencies /readyz reports on.
	Ready  []app.Dependency
	Logger *slog.Logger
	// Now is the clock overdue and escalation levels are read against.
	Now func() time.Time

	streamsOnce sync.Once
	streamsDone streamsDone

	catalogsOnce sync.Once
	catalogs     map[string]messages.Catalog
	catalogsErr  error
}

// crossOrigin refuses a browser's request from another site that could
// change something (anything but GET, HEAD and OPTIONS), at every door:
// the office pages, the API, Open311, residents' reports. The browser
// says where a request comes from (Sec-Fetch-Site, or Origin beside the
// Host it asks), and Go's http.CrossOriginProtection judges it. A request
// with neither header is a program's, not a browser's, and goes on: a
// browser never sends the API's bearer token on its own.
func crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, duban.Errorf(duban.EFORBIDDEN, "a request from another site may change nothing here"))
	}))
	return cop.Handler(next)
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	r := chi.NewRouter()
	r.Use(sensibleRequestID, middleware.RequestID, echoRequestID, middleware.RequestLogger(logFormatter{s.Logger}), recoverer, crossOrigin)
	if s.Instrument != nil {
		r.Use(s.Instrument)
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, duban.Errorf(eNoRoute, "no such route"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, duban.Errorf(eNoMethod, "%s is not allowed here", r.Method))
	})
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if s.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", s.Metrics)
	}
	r.Get("/v1/openapi.json", s.openAPI)
	r.Route("/open311/v2", s.open311Routes)
	r.Route("/v1/public", func(r chi.Router) {
		r.Post("/reports", s.publicReport)
		r.Get("/reports/{token}", s.followReport)
		r.Post("/reports/{token}/rating", s.rateReport)
		r.Get("/reports/{token}/photos/{n}", s.followPhoto)
		r.Get("/leaderboard", s.leaderboard)
	})
	r.Route("/v1", func(r chi.Router) {
		r.Use(s.authenticate)
		r.Post("/cases", s.openCase)
		r.Get("/cases", s.listCases)
		r.Get("/cases/{id}", s.getCase)
		r.Get("/cases/{id}/events", s.caseEvents)
		for _, c := range caseCommands {
			r.Post("/cases/{id}/"+c.path, s.command(c))
		}
		r.Post("/reporters/redemptions", s.redeem)
		r.Get("/escalations", s.escalations)
		r.Get("/reports/units", s.unitScorecards)
		r.Get("/reports/units/{unit}/cases", s.figureCases)
		r.Get("/reports/inspectors", s.inspectorReport)
		r.Get("/reports/bulletins", s.bulletins)
		r.Get("/reports/bulletins/{period}", s.bulletin)
		r.Get("/sanctions", s.sanctions)
		r.Get("/sanctions/{id}", s.sanction)
		r.Get("/sanctions/{id}/events", s.sanctionEvents)
		r.Post("/sanctions/{id}/done", s.sanctionDone)
		r.Get("/reports/sites", s.siteReport)
		r.Get("/reports/sites/{site}", s.siteHistory)
		r.Get("/stream", s.stream)
		r.Get("/subscriptions/{name}/failed", s.failedDeliveries)
		r.Post("/subscriptions/{name}/replay", s.replay)
		r.Get("/sites", s.listSites)
		r.Post("/sites", s.registerSite)
		r.Get("/sites/{id}", s.getSite)
		r.Patch("/sites/{id}", s.changeSite)
		r.Post("/sites/{id}/retire", s.retireSite)
		r.Get("/rounds", s.listRounds)
		r.Post("/rounds", s.planRound)
		r.Get("/rounds/{id}", s.getRound)
		r.Post("/rounds/{id}/sites/{site}/inspection", s.inspect)
		r.Post("/attachments", s.upload)
		r.Get("/attachments/{id}", s.attachment)
		r.Get("/attachments/{id}/thumbnail", s.thumbnail)
	})
	if s.Pages != nil {
		r.Mount("/", s.Pages)
	}
	return r
}

// sensibleRequestID drops a client's X-Request-Id that would not read well
// in a log line, so that the request gets an id of duban's own.
func sensibleRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(middleware.RequestIDHeader)
		if len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./", c))
		}) {
			r.Header.Del(middleware.RequestIDHeader)
		}
		next.ServeHTTP(w, r)
	})
}

// recoverer answers a request whose handler panicked as any internal
// failure is answered, problem+json saying nothing of the cause, and logs
// the panic with its stack.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // the server's own way to end a response
			}
			entry(r).Panic(v, debug.Stack())
			fail(w, r, duban.Errorf(duban.EINTERNAL, "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}

// echoRequestID tells the client its request's id.
func echoRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(middleware.RequestIDHeader, middleware.GetReqID(r.Context()))
		next.ServeHTTP(w, r)
	})
}

// logFormatter writes one access log line per request with slog, and the
// stack of a panic the Recoverer caught.
type logFormatter struct{ logger *slog.Logger }

func (f logFormatter) NewLogEntry(r *http.Request) middleware.LogEntry {
	return &logEntry{logger: f.logger, id: middleware.GetReqID(r.Context()), method: r.Method, path: r.URL.Path}
}

// logEntry is what the access log records of a request; handlers add who
// asked and which case it concerns.
type logEntry struct {
	logger            *slog.Logger
	id, method, path  string
	principal, caseID string
}

func (e *logEntry) Write(status, bytes int, _ http.Header, elapsed time.Duration, _ any) {
	attrs := []slog.Attr{
		slog.String("request_id", e.id), slog.String("method", e.method), slog.String("path", e.path),
		slog.Int("status", status), slog.Int("bytes", bytes),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
	}
	if e.principal != "" {
		attrs = append(attrs, slog.String("principal", e.principal))
	}
	if e.caseID != "" {
		attrs = append(attrs, slog.String("case_id", e.caseID))
	}
	e.logger.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}

func (e *logEntry) Panic(v any, stack []byte) {
	e.logger.Error("panic", "request_id", e.id, "panic", fmt.Sprint(v), "stack", string(stack))
}

// entry is the request's log entry.
func entry(r *http.Request) *logEntry {
	if e, ok := middleware.GetLogEntry(r).(*logEntry); ok {
		return e
	}
	return &logEntry{logger: slog.Default()}
}

// logger is the request's logger, with its request and case ids.
func logger(r *http.Request) *slog.Logger {
	e := entry(r)
	l := e.logger.With("request_id", e.id)
	if e.caseID != "" {
		l = l.With("case_id", e.caseID)
	}
	return l
}

type ctxKey int

const principalKey ctxKey = iota

// authenticate resolves the bearer token to a principal, or without one,
// the session cookie of a signed-in browser (the office's pages read the
// API, the field page sends its reports there). A request of another
// site's page never gets here: http.CrossOriginProtection refuses its
// writes (Handler), and the cookie is SameSite=Lax.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cookie, err := r.Cookie(app.SessionCookie); err == nil && s.Sessions != nil && r.Header.Get("Authorization") == "" {
			sess, err := s.Sessions.Session(r.Context(), cookie.Value)
			if err != nil {
				fail(w, r, err)
				return
			}
			entry(r).principal = sess.Principal.ID
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, sess.Principal)))
			return
		}
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			fail(w, r, duban.Errorf(duban.EUNAUTHORIZED, "send Authorization: Bearer <token>"))
			return
		}
		p, ok := s.Policy.Authenticate(strings.TrimSpace(token))
		if !ok {
			fail(w, r, duban.Errorf(duban.EUNAUTHORIZED, "unknown token"))
			return
		}
		entry(r).principal = p.ID
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

func principal(r *http.Request) duban.Principal {
	p, _ := r.Context().Value(principalKey).(duban.Principal)
	return p
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports whether every dependency answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	status, overall := http.StatusOK, "ok"
	for _, d := range s.Ready {
		checks[d.Name] = "ok"
		if err := d.Check(ctx); err != nil {
			checks[d.Name], status, overall = "unavailable", http.StatusServiceUnavailable, "unavailable"
			logger(r).Warn("readiness: "+d.Name, "error", err)
		}
	}
	reply(w, status, map[string]any{"status": overall, "checks": checks})
}
