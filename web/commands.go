package web

import (
	"encoding/json"
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
// reader has not seen; one drawn before duban's own warnings and
// escalations only is not (duban.Case.Stale, the same rule for every
// door). A refusal draws the case page again with its message.
func (s *Server) command(w http.ResponseWriter, r *http.Request) {
	id, name := chi.URLParam(r, "id"), chi.URLParam(r, "command")
	err := s.takePhoto(r)
	var cmd duban.Command
	if err == nil {
		cmd, err = commandFrom(name, session(r).Principal, r.PostForm, s.zone)
	}
	if err == nil {
		_, err = s.App.Execute(r.Context(), id, cmd, strings.TrimSpace(r.PostForm.Get("key")))
	}
	if err != nil {
		s.showCase(w, r, api.Status(err), err, r.PostForm)
		return
	}
	http.Redirect(w, r, "/cases/"+id+"?done="+name, http.StatusSeeOther)
}

// commandFrom builds command name from a case page's form: the form is
// the command's JSON body as the API takes it (api.BuildCommand reads
// both), its fields of the same names, with yes and no for booleans, a
// datetime-local in the policy's zone for a time, and the photos given as
// evidence.
func commandFrom(name string, by duban.Principal, form url.Values, zone *time.Location) (duban.Command, error) {
	meta := duban.CommandMeta{By: by}
	if v := form.Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, duban.Invalid(duban.Field("version", "must be the case's version"))
		}
		meta.IfMatch = n
	}
	body := map[string]any{}
	for _, field := range []string{"note", "reason", "text", "unit", "outcome", "duplicate_of"} {
		if form.Has(field) {
			body[field] = strings.TrimSpace(form.Get(field))
		}
	}
	for _, field := range []string{"passed", "approved"} {
		switch form.Get(field) {
		case "yes":
			body[field] = true
		case "no":
			body[field] = false
		case "":
		default:
			return nil, duban.Invalid(duban.Field(field, "choose yes or no"))
		}
	}
	if until, err := localTime("until", strings.TrimSpace(form.Get("until")), zone); err != nil {
		return nil, err
	} else if until != nil {
		body["until"] = until.Format(time.RFC3339)
	}
	if evidence := formEvidence(form); len(evidence) > 0 {
		body["evidence"] = evidence
	}
	n := 0
	if name == (duban.DecideExtension{}).Name() {
		var err error
		if n, err = strconv.Atoi(form.Get("n")); err != nil || n < 1 {
			return nil, duban.Invalid(duban.Field("n", "must be an extension request's number"))
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return api.BuildCommand(name, b, meta, n)
}

// localTime reads a datetime-local field, a wall time in the policy's
// zone; nil when it is empty.
func localTime(field, v string, zone *time.Location) (*time.Time, error) {
	if v == "" {
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
