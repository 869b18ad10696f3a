package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
)

// Command bodies. Times are strings, read with parseTime, so that a bad one
// is reported against its field; booleans are pointers, so that a missing
// one is.
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
		Reason      string        `json:"reason"`
		Outcome     duban.Outcome `json:"outcome"`
		DuplicateOf string        `json:"duplicate_of"`
	}
)

// command is every command's door: it reads the request's headers and body
// R (an empty body allowed when optional), builds the command from them
// and has the application layer run it, answering with the case after it.
// build reports only what the body's JSON cannot say (a missing boolean, a
// time not written as RFC 3339); every rule of the command is Decide's.
func command[R any](s *Server, w http.ResponseWriter, r *http.Request, optional bool, build func(req R, m duban.CommandMeta) (duban.Command, error)) {
	id := chi.URLParam(r, "id")
	entry(r).caseID = id
	m := duban.CommandMeta{By: principal(r)}
	var req R
	key, err := idempotencyKey(r)
	if err == nil {
		m.IfMatch, err = ifMatch(r)
	}
	if err == nil {
		err = decode(r, &req, optional)
	}
	var cmd duban.Command
	if err == nil {
		cmd, err = build(req, m)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	a, err := s.Commands.Execute(r.Context(), id, cmd, key)
	if err != nil {
		fail(w, r, err)
		return
	}
	s.replyCase(w, http.StatusOK, a.Case, a.Duplicates)
}

func (s *Server) acknowledge(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, true, buildAcknowledge)
}
func (s *Server) resolve(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, false, buildResolve)
}
func (s *Server) verify(w http.ResponseWriter, r *http.Request) { command(s, w, r, false, buildVerify) }
func (s *Server) comment(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, false, buildComment)
}
func (s *Server) dispute(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, false, buildDispute)
}
func (s *Server) assign(w http.ResponseWriter, r *http.Request) { command(s, w, r, false, buildAssign) }
func (s *Server) requestExtension(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, false, buildExtension)
}
func (s *Server) urge(w http.ResponseWriter, r *http.Request) { command(s, w, r, false, buildUrge) }
func (s *Server) suspend(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, false, buildSuspend)
}
func (s *Server) resume(w http.ResponseWriter, r *http.Request) { command(s, w, r, true, buildResume) }
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) { command(s, w, r, false, buildCancel) }
func (s *Server) list(w http.ResponseWriter, r *http.Request)   { command(s, w, r, false, buildList) }
func (s *Server) delist(w http.ResponseWriter, r *http.Request) { command(s, w, r, true, buildDelist) }

func (s *Server) decideExtension(w http.ResponseWriter, r *http.Request) {
	command(s, w, r, false, func(req decisionRequest, m duban.CommandMeta) (duban.Command, error) {
		n, err := strconv.Atoi(chi.URLParam(r, "n"))
		if err != nil || n < 1 {
			// The path names no extension request at all.
			return nil, duban.Errorf(duban.ENOTFOUND, "the case has no extension request %q", chi.URLParam(r, "n"))
		}
		return buildDecision(req, m, n)
	})
}

// The commands built from their bodies (FuzzCommandBody goes through
// them all).

func buildAcknowledge(_ struct{}, m duban.CommandMeta) (duban.Command, error) {
	return duban.Acknowledge{CommandMeta: m}, nil
}

func buildResolve(req resolveRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.Resolve{CommandMeta: m, Note: req.Note, Evidence: req.Evidence}, nil
}

func buildVerify(req verifyRequest, m duban.CommandMeta) (duban.Command, error) {
	if req.Passed == nil {
		return nil, required("passed", "true or false")
	}
	return duban.Verify{CommandMeta: m, Passed: *req.Passed, Note: req.Note, Evidence: req.Evidence}, nil
}

func buildComment(req commentRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.AddComment{CommandMeta: m, Text: req.Text}, nil
}

func buildDispute(req reasonRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.Dispute{CommandMeta: m, Reason: req.Reason}, nil
}

func buildAssign(req assignRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.Assign{CommandMeta: m, Unit: req.Unit, Reason: req.Reason}, nil
}

func buildExtension(req extensionRequest, m duban.CommandMeta) (duban.Command, error) {
	cmd := duban.RequestExtension{CommandMeta: m, Reason: req.Reason}
	var err error
	if req.Until != "" { // none: Decide says it is required
		cmd.Until, err = parseTime("until", req.Until)
	}
	return cmd, err
}

func buildDecision(req decisionRequest, m duban.CommandMeta, n int) (duban.Command, error) {
	if req.Approved == nil {
		return nil, required("approved", "true or false")
	}
	return duban.DecideExtension{CommandMeta: m, N: n, Approved: *req.Approved, Note: req.Note}, nil
}

func buildUrge(req noteRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.Urge{CommandMeta: m, Note: req.Note}, nil
}

func buildSuspend(req suspendRequest, m duban.CommandMeta) (duban.Command, error) {
	cmd := duban.Suspend{CommandMeta: m, Reason: req.Reason}
	if req.Until == "" {
		return cmd, nil
	}
	until, err := parseTime("until", req.Until)
	cmd.Until = &until
	return cmd, err
}

func buildResume(req noteRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.Resume{CommandMeta: m, Note: req.Note}, nil
}

func buildCancel(req cancelRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.Cancel{CommandMeta: m, Reason: req.Reason, Outcome: req.Outcome, DuplicateOf: req.DuplicateOf}, nil
}

func buildList(req reasonRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.List{CommandMeta: m, Reason: req.Reason}, nil
}

func buildDelist(req reasonRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.Delist{CommandMeta: m, Reason: req.Reason}, nil
}

func required(field, what string) error {
	return duban.Invalid(duban.Field(field, "is required: %s", what))
}

// parseTime reads an RFC 3339 time from field.
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, duban.Invalid(duban.Field(field, "must be an RFC 3339 time, e.g. 2026-11-30T18:00:00+08:00"))
	}
	return t, nil
}
