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

// A caseCommand reads a command given to a case from its JSON body. The
// API's routes and the case pages' forms (web, through BuildCommand) read
// every command here, by its name (duban.Command.Name), and
// FuzzCommandBody reads them all.
type caseCommand struct {
	path     string // its route: POST /v1/cases/{id}/path
	optional bool   // an empty body is the command with none of its fields
	// build reads body, decoded into the command's request; n is the
	// extension request a decide_extension decides.
	build func(body []byte, m duban.CommandMeta, n int) (duban.Command, error)
}

// caseCommands are the commands given to a case, by name.
var caseCommands = map[string]caseCommand{
	duban.Acknowledge{}.Name():      reads("acknowledge", true, buildAcknowledge),
	duban.Resolve{}.Name():          reads("resolve", false, buildResolve),
	duban.Verify{}.Name():           reads("verify", false, buildVerify),
	duban.AddComment{}.Name():       reads("comments", false, buildComment),
	duban.Dispute{}.Name():          reads("dispute", false, buildDispute),
	duban.Assign{}.Name():           reads("assign", false, buildAssign),
	duban.RequestExtension{}.Name(): reads("extensions", false, buildExtension),
	duban.DecideExtension{}.Name():  readsOf("extensions/{n}/decision", false, buildDecision),
	duban.Urge{}.Name():             reads("urge", false, buildUrge),
	duban.Suspend{}.Name():          reads("suspend", false, buildSuspend),
	duban.Resume{}.Name():           reads("resume", true, buildResume),
	duban.Cancel{}.Name():           reads("cancel", false, buildCancel),
	duban.List{}.Name():             reads("list", false, buildList),
	duban.Delist{}.Name():           reads("delist", true, buildDelist),
	duban.Confirm{}.Name():          reads("confirm", true, buildConfirm),
	duban.Reject{}.Name():           reads("reject", false, buildReject),
	duban.Reopen{}.Name():           reads("reopen", false, buildReopen),
}

// reads is the caseCommand at path whose body is an R, built into a
// command by build.
func reads[R any](path string, optional bool, build func(R, duban.CommandMeta) (duban.Command, error)) caseCommand {
	return readsOf(path, optional, func(req R, m duban.CommandMeta, _ int) (duban.Command, error) { return build(req, m) })
}

// readsOf is reads for a command built also from the extension request
// it names.
func readsOf[R any](path string, optional bool, build func(R, duban.CommandMeta, int) (duban.Command, error)) caseCommand {
	return caseCommand{path: path, optional: optional, build: func(body []byte, m duban.CommandMeta, n int) (duban.Command, error) {
		var req R
		if err := decodeJSON(body, &req, optional); err != nil {
			return nil, err
		}
		return build(req, m, n)
	}}
}

// BuildCommand reads the case command name from body, its JSON as the
// API's route of it takes it; n is the extension request a
// decide_extension decides. A name that is no case command is not found.
func BuildCommand(name string, body []byte, m duban.CommandMeta, n int) (duban.Command, error) {
	c, ok := caseCommands[name]
	if !ok {
		return nil, duban.Errorf(duban.ENOTFOUND, "no such command: %s", name)
	}
	return c.build(body, m, n)
}

// command is the route of the case command c: it reads the request's
// headers and body, builds the command (caseCommands) and has the
// application layer run it, answering with the case after it. Reading
// reports only what the body's JSON cannot say (a missing boolean, a time
// not written as RFC 3339); every rule of the command is Decide's.
func (s *Server) command(c caseCommand) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		entry(r).caseID = id
		m := duban.CommandMeta{By: principal(r)}
		key, err := idempotencyKey(r)
		if err == nil {
			m.IfMatch, err = ifMatch(r)
		}
		var body []byte
		if err == nil {
			body, err = readBody(r, c.optional)
		}
		n := 0
		if err == nil && chi.URLParam(r, "n") != "" {
			if n, err = strconv.Atoi(chi.URLParam(r, "n")); err != nil || n < 1 {
				// The path names no extension request at all.
				err = duban.Errorf(duban.ENOTFOUND, "the case has no extension request %q", chi.URLParam(r, "n"))
			}
		}
		var cmd duban.Command
		if err == nil {
			cmd, err = c.build(body, m, n)
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
}

// The commands built from their bodies.

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

func buildConfirm(req confirmRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.Confirm{CommandMeta: m, Note: req.Note, DuplicateOf: req.DuplicateOf}, nil
}

func buildReject(req reasonRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.Reject{CommandMeta: m, Reason: req.Reason}, nil
}

func buildReopen(req reasonRequest, m duban.CommandMeta) (duban.Command, error) {
	return duban.Reopen{CommandMeta: m, Reason: req.Reason}, nil
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
