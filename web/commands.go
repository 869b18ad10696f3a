package web

import (
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
)

// openFrom builds an open from the new-case form.
func openFrom(by duban.Principal, form url.Values) (duban.OpenCase, error) {
	cmd := duban.OpenCase{CommandMeta: duban.CommandMeta{By: by}, Category: form.Get("category"),
		Severity: duban.Severity(form.Get("severity")), Description: strings.TrimSpace(form.Get("description")),
		Location: duban.Location{Address: strings.TrimSpace(form.Get("address")), Area: strings.TrimSpace(form.Get("area"))}}
	var errs []duban.FieldError
	for _, c := range []struct {
		field string
		dst   *float64
	}{{"location.lat", &cmd.Location.Lat}, {"location.lon", &cmd.Location.Lon}} {
		v := strings.TrimSpace(form.Get(c.field))
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs = append(errs, duban.Field(c.field, "is required: a number, in degrees"))
		}
		*c.dst = n
	}
	cmd.Evidence = formEvidence(form)
	if len(errs) > 0 {
		return cmd, duban.Invalid(errs...)
	}
	return cmd, nil
}

// formEvidence is a form's evidence: a photo's URL, and the photos it
// carried (stored by takePhoto).
func formEvidence(form url.Values) []duban.Evidence {
	var evidence []duban.Evidence
	if u := strings.TrimSpace(form.Get("evidence")); u != "" {
		evidence = append(evidence, duban.Evidence{URL: u, Kind: "photo"})
	}
	for _, id := range form["attachment"] {
		evidence = append(evidence, duban.Evidence{Attachment: id, Kind: "photo"})
	}
	return evidence
}

// command gives the command a case page's form names, through the same
// application layer as the API's, with the version the page showed as its
// If-Match and the form's key as its Idempotency-Key. A page drawn before
// someone else changed the case is refused (412), not applied to a case its
// reader has not seen; one drawn before incidental events only (duban's own
// warnings and escalations, comments, urges: duban.Event.Incidental) is
// not: those change nothing its reader decided on, and the command is
// given again on the case as it stands. A refusal draws the
// case page again with its message.
func (s *Server) command(w http.ResponseWriter, r *http.Request) {
	id, name := chi.URLParam(r, "id"), chi.URLParam(r, "command")
	by := session(r).Principal
	err := s.takePhoto(r)
	form := r.PostForm
	var cmd duban.Command
	if err == nil {
		cmd, err = commandFrom(name, by, form, s.zone)
	}
	if err == nil {
		key := strings.TrimSpace(form.Get("key"))
		_, err = s.App.Execute(r.Context(), id, cmd, key)
		if current, ok := s.movedIncidentally(r, id, cmd.Meta().IfMatch, err); ok {
			again := maps.Clone(form)
			again.Set("version", strconv.FormatInt(current, 10))
			if cmd, err = commandFrom(name, by, again, s.zone); err == nil {
				// A key of its own: the case may have refused the first
				// attempt under the form's key (a warning recorded between
				// the engine's check and its decision), and it answers a
				// key it has seen as it did then. A double click derives
				// the same one, and still acts once.
				if key != "" {
					key += "@" + strconv.FormatInt(current, 10)
				}
				_, err = s.App.Execute(r.Context(), id, cmd, key)
			}
		}
	}
	if err != nil {
		s.showCase(w, r, api.Status(err), err, form)
		return
	}
	http.Redirect(w, r, "/cases/"+id+"?done="+name, http.StatusSeeOther)
}

// movedIncidentally reports, for a command refused as stale (err), whether
// every event since the page's version was incidental, and the case's
// version now.
func (s *Server) movedIncidentally(r *http.Request, id string, seen int64, err error) (current int64, ok bool) {
	if duban.ErrorCode(err) != duban.EPRECONDITION || seen == 0 {
		return 0, false
	}
	events, readErr := s.App.Events(r.Context(), session(r).Principal, id)
	if readErr != nil || len(events) == 0 {
		return 0, false
	}
	for _, e := range events[min(int(seen), len(events)):] {
		if !e.Incidental() {
			return 0, false
		}
	}
	return events[len(events)-1].Version, true
}

// commandFrom builds command name from a case page's form.
func commandFrom(name string, by duban.Principal, form url.Values, zone *time.Location) (duban.Command, error) {
	meta := duban.CommandMeta{By: by}
	if v := form.Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, duban.Invalid(duban.Field("version", "must be the case's version"))
		}
		meta.IfMatch = n
	}
	text := func(field string) string { return strings.TrimSpace(form.Get(field)) }
	yes := func(field string) (bool, error) {
		switch form.Get(field) {
		case "yes":
			return true, nil
		case "no":
			return false, nil
		}
		return false, duban.Invalid(duban.Field(field, "choose yes or no"))
	}
	evidence := formEvidence(form)
	switch name {
	case "acknowledge":
		return duban.Acknowledge{CommandMeta: meta}, nil
	case "resolve":
		return duban.Resolve{CommandMeta: meta, Note: text("note"), Evidence: evidence}, nil
	case "verify":
		passed, err := yes("passed")
		return duban.Verify{CommandMeta: meta, Passed: passed, Note: text("note"), Evidence: evidence}, err
	case "comment":
		return duban.AddComment{CommandMeta: meta, Text: text("text")}, nil
	case "dispute":
		return duban.Dispute{CommandMeta: meta, Reason: text("reason")}, nil
	case "assign":
		return duban.Assign{CommandMeta: meta, Unit: text("unit"), Reason: text("reason")}, nil
	case "request_extension":
		until, err := localTime("until", text("until"), zone, true)
		if err != nil {
			return nil, err
		}
		return duban.RequestExtension{CommandMeta: meta, Until: *until, Reason: text("reason")}, nil
	case "decide_extension":
		n, err := strconv.Atoi(form.Get("n"))
		if err != nil || n < 1 {
			return nil, duban.Invalid(duban.Field("n", "must be an extension request's number"))
		}
		approved, err := yes("approved")
		return duban.DecideExtension{CommandMeta: meta, N: n, Approved: approved, Note: text("note")}, err
	case "urge":
		return duban.Urge{CommandMeta: meta, Note: text("note")}, nil
	case "suspend":
		until, err := localTime("until", text("until"), zone, false)
		if err != nil {
			return nil, err
		}
		return duban.Suspend{CommandMeta: meta, Reason: text("reason"), Until: until}, nil
	case "resume":
		return duban.Resume{CommandMeta: meta, Note: text("note")}, nil
	case "list":
		return duban.List{CommandMeta: meta, Reason: text("reason")}, nil
	case "delist":
		return duban.Delist{CommandMeta: meta, Reason: text("reason")}, nil
	case "confirm":
		return duban.Confirm{CommandMeta: meta, Note: text("note"), DuplicateOf: text("duplicate_of")}, nil
	case "reject":
		return duban.Reject{CommandMeta: meta, Reason: text("reason")}, nil
	case "reopen":
		return duban.Reopen{CommandMeta: meta, Reason: text("reason")}, nil
	case "cancel":
		return duban.Cancel{CommandMeta: meta, Reason: text("reason"), Outcome: duban.Outcome(text("outcome")), DuplicateOf: text("duplicate_of")}, nil
	}
	return nil, duban.Errorf(duban.ENOTFOUND, "no such command: %s", name)
}

// localTime reads a datetime-local field, a wall time in the policy's zone.
func localTime(field, v string, zone *time.Location, required bool) (*time.Time, error) {
	if v == "" {
		if required {
			return nil, duban.Invalid(duban.Field(field, "is required"))
		}
		return nil, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, zone); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, duban.Invalid(duban.Field(field, "must be a date and time, YYYY-MM-DD HH:MM"))
}
