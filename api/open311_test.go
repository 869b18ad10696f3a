package api_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban/internal/apitest"
)

// fmsForm is a report as FixMyStreet's Open311 client posts it
// (Open311.pm's _populate_service_request_params): form-encoded, with its
// jurisdiction, the reporter's details, attribute[...] and media_url.
func fmsForm(apiKey string) url.Values {
	return url.Values{
		"api_key": {apiKey}, "jurisdiction_id": {"civilised-city"}, "service_code": {"littering"},
		"lat": {"39.865"}, "long": {"111.238"}, "address_string": {"新华街公交站"},
		"description": {"公交站旁垃圾成堆 <script>alert(1)</script>"},
		"email":       {"resident@example.org"}, "first_name": {"Zhang"}, "last_name": {"San"}, "phone": {"13900139000"},
		"attribute[title]": {"垃圾成堆"}, "attribute[report_url]": {"https://fms.example.org/report/42"},
		"attribute[easting]": {"0"}, "attribute[northing]": {"0"}, "attribute[fixmystreet_id]": {"42"},
		"media_url": {"https://fms.example.org/photo/42.0.jpeg", "https://fms.example.org/photo/42.1.jpeg"},
	}
}

func (d *residentDoor) postForm(path string, form url.Values) apitest.Response {
	d.t.Helper()
	return d.call("POST", path, "", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
}

// xmlPaths parses an answer with a generic XML parser: the path of every
// element holding text, with its text.
func xmlPaths(t *testing.T, body []byte) map[string][]string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(body))
	out := map[string][]string{}
	var path []string
	var text string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not XML: %v\n%s", err, body)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			path, text = append(path, tok.Name.Local), ""
		case xml.CharData:
			text += string(tok)
		case xml.EndElement:
			if strings.TrimSpace(text) != "" {
				p := strings.Join(path, "/")
				out[p] = append(out[p], text)
			}
			path, text = path[:len(path)-1], ""
		}
	}
	return out
}

// Open311 as FixMyStreet calls it: a post with its api_key, the request
// read back in JSON and XML, its token, the check's updates; nothing
// anyone reads carries the reporter's phone, e-mail or name.
func TestOpen311(t *testing.T) {
	d := newResidentDoor(t, nil)
	var posted []struct {
		ServiceRequestID string `json:"service_request_id"`
		Token            string `json:"token"`
	}
	d.postForm("/open311/v2/requests.json", fmsForm("dev-open311-key")).Expect(t, http.StatusCreated, &posted)
	if len(posted) != 1 || posted[0].ServiceRequestID != "2026-000001" || posted[0].Token == "" {
		t.Fatalf("posted %+v", posted)
	}
	id := posted[0].ServiceRequestID

	bad := d.postForm("/open311/v2/requests.xml", fmsForm("not-a-key"))
	if bad.Status != http.StatusForbidden || xmlPaths(t, bad.Body)["errors/error/code"][0] != "403" {
		t.Fatalf("a bad api_key: %d %s", bad.Status, bad.Body)
	}
	noPhoto := fmsForm("dev-open311-key")
	noPhoto.Del("media_url")
	var errs []struct {
		Code        int
		Description string
	}
	d.postForm("/open311/v2/requests.json", noPhoto).Expect(t, http.StatusBadRequest, &errs)
	if len(errs) != 1 || errs[0].Code != 400 || !strings.HasPrefix(errs[0].Description, "photo: needs at least 1") {
		t.Fatalf("a report without a photo: %+v", errs)
	}
	outside := fmsForm("dev-open311-key")
	outside.Set("lat", "31.23")
	d.postForm("/open311/v2/requests.json", outside).Expect(t, http.StatusBadRequest, nil)
	unknown := fmsForm("dev-open311-key")
	unknown.Set("service_code", "volunteer-service")
	d.postForm("/open311/v2/requests.json", unknown).Expect(t, http.StatusBadRequest, nil)

	var one []struct {
		ServiceRequestID string  `json:"service_request_id"`
		Status           string  `json:"status"`
		ServiceCode      string  `json:"service_code"`
		Description      string  `json:"description"`
		MediaURL         string  `json:"media_url"`
		Lat              float64 `json:"lat"`
		Long             float64 `json:"long"`
	}
	r := d.call("GET", "/open311/v2/requests/"+id+".json", "", nil)
	r.Expect(t, 200, &one)
	if len(one) != 1 || one[0].Status != "open" || one[0].ServiceCode != "littering" || one[0].MediaURL != "https://fms.example.org/photo/42.0.jpeg" || one[0].Long != 111.238 {
		t.Fatalf("the request: %+v", one)
	}
	x := d.call("GET", "/open311/v2/requests/"+id+".xml?extended_statuses=true", "", nil)
	paths := xmlPaths(t, x.Body)
	if x.Header.Get("Content-Type") != "text/xml; charset=utf-8" || paths["service_requests/request/service_request_id"][0] != id ||
		paths["service_requests/request/status"][0] != "INVESTIGATING" || paths["service_requests/request/description"][0] != "公交站旁垃圾成堆 <script>alert(1)</script>" {
		t.Fatalf("the request in XML: %v\n%s", paths, x.Body)
	}
	if !bytes.Contains(x.Body, []byte("&lt;script&gt;")) {
		t.Fatalf("the XML does not escape the description: %s", x.Body)
	}
	var tok []struct {
		ServiceRequestID string `json:"service_request_id"`
	}
	d.call("GET", "/open311/v2/tokens/"+posted[0].Token+".json", "", nil).Expect(t, 200, &tok)
	if len(tok) != 1 || tok[0].ServiceRequestID != id {
		t.Fatalf("the token: %+v", tok)
	}

	// The office files it: its status and updates follow.
	c := d.awaitingCheck()
	d.call("POST", "/v1/cases/"+c.ID+"/confirm", "dev-inspector", map[string]any{"note": "属实"}).Expect(t, 200, nil)
	var updates []struct {
		ServiceRequestID string `json:"service_request_id"`
		Status           string `json:"status"`
		Description      string `json:"description"`
	}
	d.call("GET", "/open311/v2/servicerequestupdates.json?extended_statuses=true", "", nil).Expect(t, 200, &updates)
	if len(updates) != 2 || updates[0].Status != "INVESTIGATING" || updates[1].Status != "ACTION_SCHEDULED" || updates[1].ServiceRequestID != id {
		t.Fatalf("updates %+v", updates)
	}
	var list []struct {
		ServiceRequestID string `json:"service_request_id"`
		Status           string `json:"status"`
	}
	d.call("GET", "/open311/v2/requests.json?status=open&service_code=littering", "", nil).Expect(t, 200, &list)
	if len(list) != 1 || list[0].ServiceRequestID != id {
		t.Fatalf("open requests %+v", list)
	}
	d.call("GET", "/open311/v2/requests.json?status=closed", "", nil).Expect(t, 200, &list)
	if len(list) != 0 {
		t.Fatalf("closed requests %+v", list)
	}
	refusedDates := d.call("GET", "/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-12-01T00:00:00Z", "", nil)
	if refusedDates.Status != 400 || !strings.Contains(string(refusedDates.Body), "90 days") {
		t.Fatalf("a span of a year: %d %s", refusedDates.Status, refusedDates.Body)
	}

	var services []struct {
		ServiceCode string `json:"service_code"`
		Metadata    bool   `json:"metadata"`
	}
	d.call("GET", "/open311/v2/services.json", "", nil).Expect(t, 200, &services)
	if len(services) != 9 || services[0].ServiceCode != "littering" {
		t.Fatalf("services %+v", services)
	}
	sx := xmlPaths(t, d.call("GET", "/open311/v2/services.xml", "", nil).Body)
	if len(sx["services/service/service_code"]) != 9 {
		t.Fatalf("services in XML %v", sx)
	}
	d.call("GET", "/open311/v2/services/littering.json", "", nil).Expect(t, 200, nil)
	d.call("GET", "/open311/v2/services/volunteer-service.json", "", nil).Expect(t, 404, nil)
	var disc struct {
		Endpoints []struct {
			URL     string   `json:"url"`
			Formats []string `json:"formats"`
		} `json:"endpoints"`
	}
	d.call("GET", "/open311/v2/discovery.json", "", nil).Expect(t, 200, &disc)
	if len(disc.Endpoints) != 1 || !strings.HasSuffix(disc.Endpoints[0].URL, "/open311/v2") {
		t.Fatalf("discovery %+v", disc)
	}
	d.call("GET", "/open311/v2/requests/2026-999999.json", "", nil).Expect(t, 404, nil)
	d.call("GET", "/open311/v2/requests.html", "", nil).Expect(t, 404, nil)

	// Nothing anyone reads names the reporter.
	for _, path := range []string{"/open311/v2/requests.json", "/open311/v2/requests.xml", "/v1/cases/" + c.ID, "/v1/cases/" + c.ID + "/events", "/v1/public/reports/" + posted[0].Token} {
		body := d.call("GET", path, "dev-supervisor", nil).Body
		for _, secret := range []string{"13900139000", "resident@example.org", "Zhang", "fms.example.org/report"} {
			if bytes.Contains(body, []byte(secret)) {
				t.Fatalf("%s shows %q: %s", path, secret, body)
			}
		}
	}
}

// Whatever form an Open311 client posts, the answer is an Open311 answer:
// never a crash, a 500, or anything but JSON or well-formed XML.
func FuzzOpen311Post(f *testing.F) {
	f.Add(fmsForm("dev-open311-key").Encode(), "json")
	f.Add("api_key=dev-open311-key&lat=1e400&long=NaN&service_code=littering", "xml")
	f.Add("api_key=dev-open311-key&media_url=%00&service_code=%ff", "xml")
	f.Add("%zz", "json")
	server := residentServer(f, nil, time.Now)
	f.Fuzz(func(t *testing.T, body, format string) {
		if format != "xml" {
			format = "json"
		}
		d := *server
		d.t = t
		r := d.call("POST", "/open311/v2/requests."+format, "", body, "Content-Type", "application/x-www-form-urlencoded")
		if r.Status >= 500 {
			t.Fatalf("%d: %s", r.Status, r.Body)
		}
		if format == "xml" {
			xmlPaths(t, r.Body)
		} else if !json.Valid(r.Body) {
			t.Fatalf("not JSON: %s", r.Body)
		}
	})
}
