package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/duban/duban"
	"github.com/go-chi/chi/v5/middleware"
)

// Codes of errors only the HTTP layer knows.
const (
	eNoRoute     = "no_route"
	eNoMethod    = "method_not_allowed"
	maxBodyBytes = 64 << 10
)

// statuses maps every error code to its HTTP status: the one place this is done.
var statuses = map[string]int{
	duban.EINVALID:      http.StatusBadRequest,
	duban.EUNAUTHORIZED: http.StatusUnauthorized,
	duban.EFORBIDDEN:    http.StatusForbidden,
	duban.ENOTFOUND:     http.StatusNotFound,
	duban.ECONFLICT:     http.StatusConflict,
	duban.EPRECONDITION: http.StatusPreconditionFailed,
	duban.ETOOMANY:      http.StatusTooManyRequests,
	duban.EUNAVAILABLE:  http.StatusServiceUnavailable,
	duban.EINTERNAL:     http.StatusInternalServerError,
	duban.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	duban.EMEDIATYPE:    http.StatusUnsupportedMediaType,
	eNoRoute:            http.StatusNotFound,
	eNoMethod:           http.StatusMethodNotAllowed,
}

// Status is the HTTP status of err, for every door that speaks HTTP.
func Status(err error) int {
	if status, ok := statuses[duban.ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// problem is an RFC 9457 problem detail.
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail"`
	Instance  string         `json:"instance,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []fieldProblem `json:"errors,omitempty"`
}

// fieldProblem is a field error as the API sends it: its field and its
// English message.
type fieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// fail answers with err as problem+json. Errors that are not *duban.Error are
// internal: they are logged with the request id and answered with a message
// that reveals nothing.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	code, status := duban.ErrorCode(err), Status(err)
	if status == http.StatusInternalServerError || code == duban.EUNAVAILABLE {
		logger(r).LogAttrs(r.Context(), slog.LevelError, "request failed", slog.String("error", err.Error()))
	}
	p := problem{
		Type:      "/problems/" + code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    duban.ErrorMessage(err),
		Instance:  r.URL.Path,
		RequestID: middleware.GetReqID(r.Context()),
	}
	if e, ok := err.(*duban.Error); ok {
		for _, f := range e.Fields {
			p.Errors = append(p.Errors, fieldProblem{f.Field, f.Message})
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="duban"`)
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter(err))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// retryAfter is how many seconds a refused caller should wait: what err
// says (duban.TooMany), else one.
func retryAfter(err error) string {
	var e *duban.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds())))
	}
	return "1"
}

// replyRaw answers with JSON already encoded.
func replyRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// reply answers with v as JSON.
func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
