package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
)

// Command bodies. Times are strings, read with parseTime, so a bad one is
// reported against its field.
type (
	resolveRequest struct {
		Note     string           `json:"note"`
		Evidence []duban.Evidence `json:"evidence"`
	}
	verifyRequest struct {
		Passed   *bool            `json:"passed"`
		Note     string           `json:"note"`
		Evidence []duban.Evidence `json:"evidence"`
	}
	commentRequest struct {
		Text string `json:"text"`
	}
	reasonRequest struct {
		Reason string `json:"reason"`
	}
	assignRequest struct {
		Unit   string `json:"unit"`
		Reason string `json:"reason"`
	}
	extensionRequest struct {
		Until  string `json:"until"`
		Reason string `json:"reason"`
	}
	decisionRequest struct {
		Approved *bool  `json:"approved"`
		Note     string `json:"note"`
	}
	noteRequest struct {
		Note string `json:"note"`
	}
	suspendRequest struct {
		Reason string `json:"reason"`
		Until  string `json:"until"`
	}
	cancelRequest struct {
		Reason      string `json:"reason"`
		DuplicateOf string `json:"duplicate_of"`
	}
)

// Each handler builds its command from the body and may return a check of
// what only the API knows (the policy's units, other cases, how a time was
// written); command runs it in Decide's order of refusals.

func (s *Server) acknowledge(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	s.command(w, r, &req, true, func(m duban.CommandMeta) (duban.Command, func() error) {
		return duban.Acknowledge{CommandMeta: m}, nil
	})
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request) {
	var req resolveRequest
	s.command(w, r, &req, false, func(m duban.CommandMeta) (duban.Command, func() error) {
		return duban.Resolve{CommandMeta: m, Note: req.Note, Evidence: req.Evidence}, nil
	})
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	var req verifyRequest
	s.command(w, r, &req, false, func(m duban.CommandMeta) (duban.Command, func() error) {
		cmd := duban.Verify{CommandMeta: m, Note: req.Note, Evidence: req.Evidence}
		if req.Passed == nil {
			return cmd, func() error { return required("passed", "true or false") }
		}
		cmd.Passed = *req.Passed
		return cmd, nil
	})
}

func (s *Server) comment(w http.ResponseWriter, r *http.Request) {
	var req commentRequest
	s.command(w, r, &req, false, func(m duban.CommandMeta) (duban.Command, func() error) {
		return duban.AddComment{CommandMeta: m, Text: req.Text}, nil
	})
}

func (s *Server) dispute(w http.ResponseWriter, r *http.Request) {
	var req reasonRequest
	s.command(w, r, &req, false, func(m duban.CommandMeta) (duban.Command, func() error) {
		return duban.Dispute{CommandMeta: m, Reason: req.Reason}, nil
	})
}

func (s *Server) assign(w http.ResponseWriter, r *http.Request) {
	var req assignRequest
	s.command(w, r, &req, false, func(m duban.CommandMeta) (duban.Command, func() error) {
		return duban.Assign{CommandMeta: m, Unit: req.Unit, Reason: req.Reason}, func() error {
			if _, ok := s.Policy.Unit(req.Unit); ok {
				return nil
			}
			var ids []string
			for _, u := range s.Policy.Units {
				ids = append(ids, u.ID)
			}
			return duban.Invalid(duban.FieldError{Field: "unit", Message: "is not a unit of the policy: " + strings.Join(ids, ", ")})
		}
	})
}

func (s *Server) requestExtension(w http.ResponseWriter, r *http.Request) {
	var req extensionRequest
	s.command(w, r, &req, false, func(m duban.CommandMeta) (duban.Command, func() error) {
		until, err := parseTime("until", req.Until)
		return duban.RequestExtension{CommandMeta: m, Until: until, Reason: req.Reason}, func() error { return err }
	})
}

func (s *Server) decideExtension(w http.ResponseWriter, r *http.Request) {
	var req decisionRequest
	s.command(w, r, &req, false, func(m duban.CommandMeta) (duban.Command, func() error) {
		n, err := strconv.Atoi(chi.URLParam(r, "n"))
		cmd := duban.DecideExtension{CommandMeta: m, N: max(n, 1), Note: req.Note}
		if req.Approved != nil {
			cmd.Approved = *req.Approved
		}
		return cmd, func() error {
			if err != nil || n < 1 {
				return duban.Errorf(duban.ENOTFOUND, "the case has no extension request %q", chi.URLParam(r, "n"))
			}
			if req.Approved == nil {
				return required("approved", "true or false")
			}
			return nil
		}
	})
}

func (s *Server) urge(w http.ResponseWriter, r *http.Request) {
	var req noteRequest
	s.command(w, r, &req, false, func(m duban.CommandMeta) (duban.Command, func() error) {
		return duban.Urge{CommandMeta: m, Note: req.Note}, nil
	})
}

func (s *Server) suspend(w http.ResponseWriter, r *http.Request) {
	var req suspendRequest
	s.command(w, r, &req, false, func(m duban.CommandMeta) (duban.Command, func() error) {
		cmd := duban.Suspend{CommandMeta: m, Reason: req.Reason}
		if req.Until == "" {
			return cmd, nil
		}
		until, err := parseTime("until", req.Until)
		if err == nil {
			cmd.Until = &until
		}
		return cmd, func() error { return err }
	})
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	var req noteRequest
	s.command(w, r, &req, true, func(m duban.CommandMeta) (duban.Command, func() error) {
		return duban.Resume{CommandMeta: m, Note: req.Note}, nil
	})
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	var req cancelRequest
	s.command(w, r, &req, false, func(m duban.CommandMeta) (duban.Command, func() error) {
		cmd := duban.Cancel{CommandMeta: m, Reason: req.Reason, DuplicateOf: req.DuplicateOf}
		return cmd, func() error {
			if req.DuplicateOf == "" || req.DuplicateOf == chi.URLParam(r, "id") {
				return nil // Decide refuses a case as its own duplicate
			}
			// The case a duplicate merges into must exist for the principal and stay open.
			original, err := s.Store.Case(r.Context(), req.DuplicateOf)
			if duban.ErrorCode(err) == duban.ENOTFOUND || (err == nil && !m.By.CanSee(&original.Case)) {
				return duban.Invalid(duban.FieldError{Field: "duplicate_of", Message: "is not a case"})
			} else if err != nil {
				return err
			}
			if !original.Status.Open() {
				return duban.Errorf(duban.ECONFLICT, "case %s is %s: a duplicate is merged into a case that stays open", original.ID, original.Status)
			}
			return nil
		}
	})
}

func required(field, what string) error {
	return duban.Invalid(duban.FieldError{Field: field, Message: "is required: " + what})
}

// parseTime reads an RFC 3339 time from field.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, required(field, "an RFC 3339 time, e.g. 2026-11-30T18:00:00+08:00")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, duban.Invalid(duban.FieldError{Field: field, Message: "must be an RFC 3339 time, e.g. 2026-11-30T18:00:00+08:00"})
	}
	return t, nil
}

// command runs the steps every command shares: find the case the principal
// may see, read If-Match and the body, check the command with Decide against
// the projection (and with the handler's own check, in the same order of
// refusals), then send it to the case's workflow and answer with the case
// after it. A command repeated with its Idempotency-Key answers as it did
// the first time, never applied twice.
func (s *Server) command(w http.ResponseWriter, r *http.Request, body any, optional bool, build func(duban.CommandMeta) (duban.Command, func() error)) {
	before, err := s.visibleCase(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	c := before.Case
	meta := duban.CommandMeta{By: principal(r)}
	if meta.IfMatch, err = ifMatch(r); err != nil {
		fail(w, r, err)
		return
	}
	key, err := idempotencyKey(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	if err := decode(r, body, optional); err != nil {
		fail(w, r, err)
		return
	}
	cmd, check := build(meta)
	updateID := ""
	if key != "" {
		sum := sha256.Sum256([]byte(meta.By.ID + "\n" + cmd.Name() + "\n" + key))
		updateID = "key:" + hex.EncodeToString(sum[:16])
	}
	if err := precheck(c, cmd, check, s.Now()); err != nil {
		// A repeat of a command that was applied, its answer lost (the
		// client timed out, the API died): the case has moved on and
		// refuses it now, but the repeat answers as the first would have.
		if code := duban.ErrorCode(err); updateID != "" && (code == duban.ECONFLICT || code == duban.EPRECONDITION) {
			if after, applied, lookErr := s.Store.CaseAfter(r.Context(), c.ID, updateID); lookErr != nil {
				err = lookErr
			} else if applied {
				s.replyCase(w, http.StatusOK, after, before.Duplicates)
				return
			}
		}
		fail(w, r, err)
		return
	}
	if !s.gate.enter(c.ID) {
		fail(w, r, duban.Errorf(duban.ETOOMANY, "too many commands are waiting on this case; try again in a moment"))
		return
	}
	defer s.gate.leave(c.ID)
	ctx, cancel := context.WithTimeout(r.Context(), s.CommandTimeout)
	defer cancel()
	after, err := s.Cases.Execute(ctx, c.ID, cmd, updateID)
	if err != nil {
		fail(w, r, err)
		return
	}
	// What other cases say of this one (its duplicates) is as read before
	// the command: no command on this case changes it.
	s.replyCase(w, http.StatusOK, after, before.Duplicates)
}

// precheck refuses what Decide refuses on the projection, and what the
// handler's check finds, in Decide's order: not found, forbidden and a stale
// If-Match first; then every invalid field at once; then the conflicts.
func precheck(c duban.Case, cmd duban.Command, check func() error, now time.Time) error {
	_, err := duban.Decide(c, cmd, now)
	switch duban.ErrorCode(err) {
	case duban.ENOTFOUND, duban.EFORBIDDEN, duban.EPRECONDITION:
		return err
	}
	var apiErr error
	if check != nil {
		apiErr = check()
	}
	var invalid []duban.FieldError
	var e *duban.Error
	switch {
	case apiErr == nil:
		return err
	case !errors.As(apiErr, &e) || e.Code != duban.EINVALID:
		return apiErr
	default:
		invalid = e.Fields
	}
	if duban.ErrorCode(err) != duban.EINVALID {
		err = nil // the request's own faults come before the case's state
	}
	return withFieldErrors(err, invalid)
}

// ifMatch reads If-Match: "<version>" (or W/"<version>"); 0 when absent.
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || v <= 0 {
		return 0, duban.Invalid(duban.FieldError{Field: "If-Match", Message: `must be a case version as the ETag gives it, e.g. "3"`})
	}
	return v, nil
}
