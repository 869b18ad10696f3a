package api

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2), as
// FixMyStreet and city apps speak it, under /open311/v2: the public
// categories are its services, a posted request is a resident's report
// (awaiting the office's check like any other), and a service request's
// id is its case number. JSON or XML by the path's extension; errors as
// the specification's list of {code, description}. mySociety's
// servicerequestupdates lists changes of status, and its extended
// statuses are answered where asked (extended_statuses=true).

// Open311Desk is what Open311 reads and posts through.
type Open311Desk interface {
	ResidentDesk
	PublicRequests(ctx context.Context, f duban.CaseFilter) ([]app.PublicRequest, error)
	PublicRequest(ctx context.Context, number string) (app.PublicRequest, error)
	FollowedNumber(ctx context.Context, token string) (string, error)
	PublicUpdates(ctx context.Context, from, to time.Time) ([]app.PublicUpdate, error)
}

// open311Window bounds the dates a list of requests or updates may span.
const open311Window = 90 * 24 * time.Hour

func (s *Server) open311Routes(r chi.Router) {
	r.Get("/discovery.{format}", s.o311Discovery)
	r.Get("/services.{format}", s.o311Services)
	r.Get("/services/{code}.{format}", s.o311Service)
	r.Get("/requests.{format}", s.o311Requests)
	r.Post("/requests.{format}", s.o311Post)
	r.Get("/requests/{id}.{format}", s.o311Request)
	r.Get("/tokens/{token}.{format}", s.o311Token)
	r.Get("/servicerequestupdates.{format}", s.o311Updates)
}

type o311Error struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
}

type o311Errors struct {
	XMLName xml.Name    `json:"-" xml:"errors"`
	Errors  []o311Error `xml:"error"`
}

// o311Reply answers v as the path's format asks: JSON, or XML wrapped in
// its list's element (v's XML form).
func o311Reply(w http.ResponseWriter, r *http.Request, status int, jsonValue, xmlValue any) {
	w.Header().Set("Cache-Control", "no-store")
	if chi.URLParam(r, "format") == "xml" {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(xml.Header))
		_ = xml.NewEncoder(w).Encode(xmlValue)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8") // as the specification has it
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(jsonValue)
}

// o311Fail answers err as the specification's errors.
func o311Fail(w http.ResponseWriter, r *http.Request, err error) {
	status := Status(err)
	if status >= 500 {
		logger(r).Error("open311 request failed", "error", err)
	}
	var list []o311Error
	var e *duban.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		for _, f := range e.Fields {
			list = append(list, o311Error{status, f.Field + ": " + f.Message})
		}
	} else {
		list = append(list, o311Error{status, duban.ErrorMessage(err)})
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", retryAfter(err))
	}
	o311Reply(w, r, status, list, o311Errors{Errors: list})
}

// o311 checks the format and that Open311 is served: the desk, or false
// once it has answered.
func (s *Server) o311(w http.ResponseWriter, r *http.Request) (Open311Desk, bool) {
	if f := chi.URLParam(r, "format"); f != "json" && f != "xml" {
		o311Fail(w, r, duban.Errorf(duban.ENOTFOUND, "use .json or .xml"))
		return nil, false
	}
	desk, ok := s.Residents.(Open311Desk)
	if !ok || s.Residents == nil {
		o311Fail(w, r, duban.Errorf(duban.ENOTFOUND, "this duban takes no residents' reports"))
		return nil, false
	}
	return desk, true
}

type o311Endpoint struct {
	Specification string   `json:"specification" xml:"specification"`
	URL           string   `json:"url" xml:"url"`
	Changeset     string   `json:"changeset" xml:"changeset"`
	Type          string   `json:"type" xml:"type"`
	Formats       []string `json:"formats" xml:"formats>format"`
}

type o311Discovery struct {
	XMLName    xml.Name       `json:"-" xml:"discovery"`
	Changeset  string         `json:"changeset" xml:"changeset"`
	Contact    string         `json:"contact" xml:"contact"`
	KeyService string         `json:"key_service" xml:"key_service"`
	Endpoints  []o311Endpoint `json:"endpoints" xml:"endpoints>endpoint"`
}

func (s *Server) o311Discovery(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.o311(w, r); !ok {
		return
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	d := o311Discovery{
		Changeset: s.Policy.Version, Contact: s.Policy.Office.In("zh"), KeyService: "api_key: from the campaign office (policy open311.api_keys)",
		Endpoints: []o311Endpoint{{Specification: "http://wiki.open311.org/GeoReport_v2", URL: scheme + "://" + r.Host + "/open311/v2",
			Changeset: s.Policy.Version, Type: "production", Formats: []string{"application/json", "text/xml"}}},
	}
	o311Reply(w, r, http.StatusOK, d, d)
}

type o311ServiceEntry struct {
	XMLName     xml.Name `json:"-" xml:"service"`
	ServiceCode string   `json:"service_code" xml:"service_code"`
	ServiceName string   `json:"service_name" xml:"service_name"`
	Description string   `json:"description" xml:"description"`
	Metadata    bool     `json:"metadata" xml:"metadata"`
	Type        string   `json:"type" xml:"type"`
	Keywords    string   `json:"keywords" xml:"keywords"`
	Group       string   `json:"group" xml:"group"`
}

type o311ServiceList struct {
	XMLName  xml.Name           `json:"-" xml:"services"`
	Services []o311ServiceEntry `xml:"service"`
}

func (s *Server) services() []o311ServiceEntry {
	var out []o311ServiceEntry
	for _, code := range s.Policy.PublicCategories() {
		c, _ := s.Policy.Category(code)
		out = append(out, o311ServiceEntry{ServiceCode: code, ServiceName: c.Name.In("zh"), Description: c.Name.In("en"), Type: "realtime", Group: ""})
	}
	return out
}

func (s *Server) o311Services(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.o311(w, r); !ok {
		return
	}
	list := s.services()
	o311Reply(w, r, http.StatusOK, list, o311ServiceList{Services: list})
}

type o311Definition struct {
	XMLName     xml.Name `json:"-" xml:"service_definition"`
	ServiceCode string   `json:"service_code" xml:"service_code"`
	Attributes  []struct {
	} `json:"attributes" xml:"attributes>attribute"`
}

func (s *Server) o311Service(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.o311(w, r); !ok {
		return
	}
	code := chi.URLParam(r, "code")
	for _, sv := range s.services() {
		if sv.ServiceCode == code {
			d := o311Definition{ServiceCode: code, Attributes: []struct{}{}}
			o311Reply(w, r, http.StatusOK, d, d)
			return
		}
	}
	o311Fail(w, r, duban.Errorf(duban.ENOTFOUND, "no service %s", code))
}

type o311Request struct {
	XMLName           xml.Name `json:"-" xml:"request"`
	ServiceRequestID  string   `json:"service_request_id" xml:"service_request_id"`
	Status            string   `json:"status" xml:"status"`
	StatusNotes       string   `json:"status_notes,omitempty" xml:"status_notes,omitempty"`
	ServiceName       string   `json:"service_name" xml:"service_name"`
	ServiceCode       string   `json:"service_code" xml:"service_code"`
	Description       string   `json:"description" xml:"description"`
	AgencyResponsible string   `json:"agency_responsible,omitempty" xml:"agency_responsible,omitempty"`
	ServiceNotice     string   `json:"service_notice,omitempty" xml:"service_notice,omitempty"`
	RequestedDatetime string   `json:"requested_datetime" xml:"requested_datetime"`
	UpdatedDatetime   string   `json:"updated_datetime" xml:"updated_datetime"`
	ExpectedDatetime  string   `json:"expected_datetime,omitempty" xml:"expected_datetime,omitempty"`
	Address           string   `json:"address,omitempty" xml:"address,omitempty"`
	Lat               float64  `json:"lat" xml:"lat"`
	Long              float64  `json:"long" xml:"long"`
	MediaURL          string   `json:"media_url,omitempty" xml:"media_url,omitempty"`
}

type o311RequestList struct {
	XMLName  xml.Name      `json:"-" xml:"service_requests"`
	Requests []o311Request `xml:"request"`
}

// o311Status is a case's Open311 status: open or closed, or, asked for,
// mySociety's extended statuses.
func o311Status(st duban.Status, outcome duban.Outcome, extended bool) string {
	if !extended {
		if st.Open() {
			return "open"
		}
		return "closed"
	}
	switch st {
	case duban.StatusReported:
		return "INVESTIGATING"
	case duban.StatusUnrouted, duban.StatusDisputed:
		return "OPEN"
	case duban.StatusDispatched:
		return "ACTION_SCHEDULED"
	case duban.StatusInProgress, duban.StatusSuspended, duban.StatusResolved:
		return "IN_PROGRESS"
	case duban.StatusClosed:
		return "FIXED"
	}
	switch outcome {
	case duban.OutcomeDuplicate:
		return "DUPLICATE"
	case duban.OutcomeNoFurtherAction:
		return "NO_FURTHER_ACTION"
	}
	return "CLOSED"
}

func (s *Server) o311Of(r *http.Request, pr app.PublicRequest) o311Request {
	extended := r.URL.Query().Get("extended_statuses") == "true"
	c, _ := s.Policy.Category(pr.Category)
	out := o311Request{
		ServiceRequestID: pr.Number, Status: o311Status(pr.Status, pr.Outcome, extended), ServiceName: c.Name.In("zh"), ServiceCode: pr.Category,
		Description: pr.Description, RequestedDatetime: pr.OpenedAt.Format(time.RFC3339), UpdatedDatetime: pr.UpdatedAt.Format(time.RFC3339),
		Address: pr.Address, Lat: pr.Lat, Long: pr.Lon,
	}
	if pr.Unit != "" {
		u, _ := s.Policy.Unit(pr.Unit)
		out.AgencyResponsible = u.Name.In("zh")
	}
	if due := pr.ResolveBy; due != nil && pr.Status.Open() {
		out.ExpectedDatetime = due.Format(time.RFC3339)
	}
	if len(pr.Media) > 0 {
		out.MediaURL = pr.Media[0]
	}
	return out
}

// o311Dates reads start_date and end_date (RFC 3339 or W3C dates), the
// first and last times to include, at most 90 days apart; by default the
// 90 days to now.
func (s *Server) o311Dates(q url.Values) (from, to time.Time, err error) {
	to = s.Now()
	parse := func(field, v string) (time.Time, error) {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, nil
			}
		}
		return time.Time{}, duban.Invalid(duban.Field(field, "must be a date and time, RFC 3339 (W3C), such as 2026-12-01T00:00:00+08:00"))
	}
	if v := q.Get("end_date"); v != "" {
		if to, err = parse("end_date", v); err != nil {
			return
		}
	}
	from = to.Add(-open311Window)
	if v := q.Get("start_date"); v != "" {
		if from, err = parse("start_date", v); err != nil {
			return
		}
	}
	switch {
	case !from.Before(to):
		err = duban.Invalid(duban.Field("end_date", "must be after start_date"))
	case to.Sub(from) > open311Window:
		err = duban.Invalid(duban.Field("end_date", "must be within 90 days of start_date"))
	}
	return
}

func (s *Server) o311Requests(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.o311(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var list []o311Request
	if ids := q.Get("service_request_id"); ids != "" {
		for _, id := range strings.Split(ids, ",") {
			pr, err := desk.PublicRequest(r.Context(), strings.TrimSpace(id))
			if duban.ErrorCode(err) == duban.ENOTFOUND {
				continue
			} else if err != nil {
				o311Fail(w, r, err)
				return
			}
			list = append(list, s.o311Of(r, pr))
		}
		o311Reply(w, r, http.StatusOK, nonNil(list), o311RequestList{Requests: list})
		return
	}
	from, to, err := s.o311Dates(q)
	if err != nil {
		o311Fail(w, r, err)
		return
	}
	// end_date is the latest time to include (the store's times are to
	// the microsecond).
	f := duban.CaseFilter{Category: q.Get("service_code"), OpenedFrom: from, OpenedBefore: to.Add(time.Microsecond)}
	switch q.Get("status") {
	case "":
	case "open":
		f.Statuses = duban.OpenStatuses()
	case "closed":
		f.Statuses = []duban.Status{duban.StatusClosed, duban.StatusCancelled}
	default:
		o311Fail(w, r, duban.Invalid(duban.Field("status", "must be open or closed")))
		return
	}
	rs, err := desk.PublicRequests(r.Context(), f)
	if err != nil {
		o311Fail(w, r, err)
		return
	}
	for _, pr := range rs {
		list = append(list, s.o311Of(r, pr))
	}
	o311Reply(w, r, http.StatusOK, nonNil(list), o311RequestList{Requests: list})
}

func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

func (s *Server) o311Request(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.o311(w, r)
	if !ok {
		return
	}
	pr, err := desk.PublicRequest(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		o311Fail(w, r, err)
		return
	}
	list := []o311Request{s.o311Of(r, pr)}
	o311Reply(w, r, http.StatusOK, list, o311RequestList{Requests: list})
}

type o311Posted struct {
	XMLName          xml.Name `json:"-" xml:"request"`
	ServiceRequestID string   `json:"service_request_id" xml:"service_request_id"`
	Token            string   `json:"token" xml:"token"`
	ServiceNotice    string   `json:"service_notice" xml:"service_notice"`
}

type o311PostedList struct {
	XMLName  xml.Name     `json:"-" xml:"service_requests"`
	Requests []o311Posted `xml:"request"`
}

// o311Post takes a request as Open311 clients post it, form-encoded: its
// api_key names the client, service_code the category; lat and long, or
// address_string with them; description; media_url, repeated (mySociety);
// phone, to recognise a returning reporter (email, names and device ids
// are not kept). attribute[...] are taken and ignored: the services have
// no attributes.
func (s *Server) o311Post(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.o311(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			o311Fail(w, r, duban.Errorf(duban.ETOOLARGE, "the request body is larger than %d bytes", maxBodyBytes))
			return
		}
		o311Fail(w, r, duban.Errorf(duban.EINVALID, "send the request form-encoded (application/x-www-form-urlencoded)"))
		return
	}
	form := r.PostForm
	client, ok := s.Policy.Open311Client(form.Get("api_key"))
	if !ok {
		o311Fail(w, r, duban.Errorf(duban.EFORBIDDEN, "api_key is not a key of this duban's Open311 clients"))
		return
	}
	var errs []duban.FieldError
	loc := duban.Location{Address: strings.TrimSpace(form.Get("address_string"))}
	for _, c := range []struct {
		name string
		dst  *float64
	}{{"lat", &loc.Lat}, {"long", &loc.Lon}} {
		v, err := strconv.ParseFloat(form.Get(c.name), 64)
		if err != nil {
			errs = append(errs, duban.Field(c.name, "is required: a WGS84 coordinate"))
		}
		*c.dst = v
	}
	if form.Get("service_code") == "" {
		errs = append(errs, duban.Field("service_code", "is required"))
	}
	if len(errs) > 0 {
		o311Fail(w, r, duban.Invalid(errs...))
		return
	}
	phone := form.Get("phone")
	if err := desk.MayPost("", phone); err != nil {
		o311Fail(w, r, err)
		return
	}
	by, err := desk.Reporter(r.Context(), phone, "")
	if err != nil {
		o311Fail(w, r, err)
		return
	}
	report := app.PublicReport{Category: form.Get("service_code"), Description: form.Get("description"), Location: loc, Channel: duban.ChannelOpen311 + ":" + client}
	for _, u := range form["media_url"] {
		if u = strings.TrimSpace(u); u != "" {
			report.Evidence = append(report.Evidence, duban.Evidence{URL: u, Kind: "photo"})
		}
	}
	a, err := desk.Report(r.Context(), by, report, "")
	if err != nil {
		o311Fail(w, r, err)
		return
	}
	entry(r).caseID = a.Case.ID
	list := []o311Posted{{ServiceRequestID: a.Case.Number, Token: a.Token, ServiceNotice: "The campaign office checks each report before it is filed; follow it at /r/" + a.Token}}
	o311Reply(w, r, http.StatusCreated, list, o311PostedList{Requests: list})
}

type o311TokenAnswer struct {
	XMLName          xml.Name `json:"-" xml:"request"`
	ServiceRequestID string   `json:"service_request_id" xml:"service_request_id"`
	Token            string   `json:"token" xml:"token"`
}

func (s *Server) o311Token(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.o311(w, r)
	if !ok {
		return
	}
	token := chi.URLParam(r, "token")
	number, err := desk.FollowedNumber(r.Context(), token)
	if err != nil {
		o311Fail(w, r, err)
		return
	}
	list := []o311TokenAnswer{{ServiceRequestID: number, Token: token}}
	o311Reply(w, r, http.StatusOK, list, struct {
		XMLName  xml.Name          `xml:"service_requests"`
		Requests []o311TokenAnswer `xml:"request"`
	}{Requests: list})
}

type o311Update struct {
	XMLName          xml.Name `json:"-" xml:"request_update"`
	UpdateID         string   `json:"update_id" xml:"update_id"`
	ServiceRequestID string   `json:"service_request_id" xml:"service_request_id"`
	Status           string   `json:"status" xml:"status"`
	UpdatedDatetime  string   `json:"updated_datetime" xml:"updated_datetime"`
	Description      string   `json:"description" xml:"description"`
	MediaURL         string   `json:"media_url" xml:"media_url"`
}

func (s *Server) o311Updates(w http.ResponseWriter, r *http.Request) {
	desk, ok := s.o311(w, r)
	if !ok {
		return
	}
	from, to, err := s.o311Dates(r.URL.Query())
	if err != nil {
		o311Fail(w, r, err)
		return
	}
	updates, err := desk.PublicUpdates(r.Context(), from, to)
	if err != nil {
		o311Fail(w, r, err)
		return
	}
	extended := r.URL.Query().Get("extended_statuses") == "true"
	list := []o311Update{}
	for _, u := range updates {
		list = append(list, o311Update{UpdateID: u.ID, ServiceRequestID: u.Number, Status: o311Status(u.Status, u.Outcome, extended),
			UpdatedDatetime: u.At.Format(time.RFC3339), Description: u.Description})
	}
	o311Reply(w, r, http.StatusOK, list, struct {
		XMLName xml.Name     `xml:"service_request_updates"`
		Updates []o311Update `xml:"request_update"`
	}{Updates: list})
}
