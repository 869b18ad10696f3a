// Package api is duban's HTTP API: a chi router, bearer-token
// authentication, strict JSON in, problem+json out.
//
// Reads come from the PostgreSQL projection. Commands are checked first with
// duban.Decide against the projection, so a refused command costs no trip to
// Temporal, and then sent to the case's workflow, which decides again and
// answers with the case once its events are committed: a GET right after a
// command sees it.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/postgres"
	"github.com/duban/duban/workflows"
)

// Server serves the API.
type Server struct {
	Policy *duban.Policy
	Store  *postgres.Store
	Cases  *workflows.Client
	Logger *slog.Logger
	// Now is the clock overdue and escalation levels are read against.
	Now func() time.Time
	// CommandTimeout bounds how long a command waits for its case's answer.
	CommandTimeout time.Duration

	gate caseGate
}

// maxInFlightPerCase bounds the commands one API process sends to one case
// at once: a case handles commands one at a time, and a pile of them only
// makes each wait longer.
const maxInFlightPerCase = 4

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.CommandTimeout == 0 {
		s.CommandTimeout = 30 * time.Second
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	r := chi.NewRouter()
	r.Use(s.observe)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, &duban.Error{Code: eNoRoute, Message: "no such route"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, &duban.Error{Code: eNoMethod, Message: r.Method + " is not allowed here"})
	})
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Route("/v1", func(r chi.Router) {
		r.Use(s.authenticate)
		r.Post("/cases", s.openCase)
		r.Get("/cases", s.listCases)
		r.Get("/cases/{id}", s.getCase)
		r.Get("/cases/{id}/events", s.caseEvents)
		r.Post("/cases/{id}/acknowledge", s.acknowledge)
		r.Post("/cases/{id}/resolve", s.resolve)
		r.Post("/cases/{id}/verify", s.verify)
		r.Post("/cases/{id}/comments", s.comment)
		r.Post("/cases/{id}/dispute", s.dispute)
		r.Post("/cases/{id}/assign", s.assign)
		r.Post("/cases/{id}/extensions", s.requestExtension)
		r.Post("/cases/{id}/extensions/{n}/decision", s.decideExtension)
		r.Post("/cases/{id}/urge", s.urge)
		r.Post("/cases/{id}/suspend", s.suspend)
		r.Post("/cases/{id}/resume", s.resume)
		r.Post("/cases/{id}/cancel", s.cancel)
		r.Get("/escalations", s.escalations)
	})
	return r
}

type ctxKey int

const (
	principalKey ctxKey = iota
	requestKey
)

// requestInfo is what the access log records of a request; handlers add to it.
type requestInfo struct {
	id        string
	logger    *slog.Logger
	principal string
	caseID    string
}

func info(r *http.Request) *requestInfo {
	if ri, ok := r.Context().Value(requestKey).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{logger: slog.Default()}
}

func requestID(r *http.Request) string { return info(r).id }

func logger(r *http.Request) *slog.Logger {
	ri := info(r)
	l := ri.logger.With("request_id", ri.id)
	if ri.caseID != "" {
		l = l.With("case_id", ri.caseID)
	}
	return l
}

// observe gives each request an id (the client's X-Request-Id when it is
// sensible), recovers from panics, and writes one access log line.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !sensibleRequestID(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		ri := &requestInfo{id: id, logger: s.Logger}
		r = r.WithContext(context.WithValue(r.Context(), requestKey, ri))
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.Logger.Error("panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					fail(sw, r, duban.Errorf(duban.EINTERNAL, "internal error"))
				}
			}
			attrs := []slog.Attr{
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", sw.status), slog.Int("bytes", sw.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			}
			if ri.principal != "" {
				attrs = append(attrs, slog.String("principal", ri.principal))
			}
			if ri.caseID != "" {
				attrs = append(attrs, slog.String("case_id", ri.caseID))
			}
			s.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

func sensibleRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

type statusWriter struct {
	http.ResponseWriter
	status, bytes int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// authenticate resolves the bearer token to a principal.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		info(r).principal = p.ID
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

func principal(r *http.Request) duban.Principal {
	p, _ := r.Context().Value(principalKey).(duban.Principal)
	return p
}

// caseGate counts the commands in flight per case.
type caseGate struct {
	mu sync.Mutex
	n  map[string]int
}

func (g *caseGate) enter(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == nil {
		g.n = map[string]int{}
	}
	if g.n[id] >= maxInFlightPerCase {
		return false
	}
	g.n[id]++
	return true
}

func (g *caseGate) leave(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n[id]--; g.n[id] <= 0 {
		delete(g.n, id)
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports whether the database and Temporal answer.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "temporal": "ok"}
	status := http.StatusOK
	if err := s.Store.Ping(ctx); err != nil {
		checks["database"], status = "unavailable", http.StatusServiceUnavailable
		logger(r).Warn("readiness: database", "error", err)
	}
	if _, err := s.Cases.Temporal.CheckHealth(ctx, nil); err != nil {
		checks["temporal"], status = "unavailable", http.StatusServiceUnavailable
		logger(r).Warn("readiness: temporal", "error", err)
	}
	overall := "ok"
	if status != http.StatusOK {
		overall = "unavailable"
	}
	reply(w, status, map[string]any{"status": overall, "checks": checks})
}
