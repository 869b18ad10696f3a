package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
)

// No request body crashes decoding or the open command's checks, and every
// refusal is a *duban.Error with a client-safe message: nothing internal.
func FuzzOpenBody(f *testing.F) {
	f.Add([]byte(`{"category":"littering","description":"bags","location":{"lat":39.9,"lon":116.4,"area":"old-town"},"evidence":[{"url":"https://e.org/1.jpg","kind":"photo"}]}`))
	f.Add([]byte(`{"category":"littering","location":{"lat":"north"}}`))
	f.Add([]byte(`{"category":`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"location":null,"evidence":[null]}`))
	f.Add([]byte(`{"description":"\u0000"} trailing`))
	policy := duban.DefaultPolicy()
	inspector := duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/cases", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req openRequest
		if err := decode(r, &req, false); err != nil {
			checkClientError(t, err)
			return
		}
		cmd, err := req.command(inspector)
		if err != nil {
			checkClientError(t, err)
			return
		}
		cmd.CaseID = "0b5a6c1e-8a51-4f7e-9d0c-2f6a1b3c4d5e"
		if _, err := duban.Decide(duban.Case{}, policy.Resolve(cmd), time.Now()); err != nil {
			checkClientError(t, err)
		}
	})
}

// No cursor crashes decodeCursor; the ones it accepts encode back to
// themselves, and a list's cursor is not the board's.
func FuzzCursor(f *testing.F) {
	f.Add(EncodeCursor(&duban.CaseCursor{OpenedAt: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), ID: "0194f2a0-0000-7000-8000-000000000000"}))
	f.Add(EncodeCursor(&duban.BoardCursor{Level: 2, Deadline: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), ID: "0194f2a0-0000-7000-8000-000000000000"}))
	f.Add("")
	f.Add("Zm9v")
	f.Add("eyJ0IjoieCJ9")
	f.Add("eyJ0IjoiMjAyNi0xMS0wMlQxNzowMDowMCswODowMCIsImlkIjoieCJ9") // {"t":"2026-11-02T17:00:00+08:00","id":"x"}
	f.Fuzz(func(t *testing.T, s string) {
		c, errList := DecodeCursor[duban.CaseCursor](s)
		if errList != nil {
			checkClientError(t, errList)
		} else if again, err := DecodeCursor[duban.CaseCursor](EncodeCursor(c)); err != nil || again.ID != c.ID || !again.OpenedAt.Equal(c.OpenedAt) {
			t.Fatalf("cursor %q does not survive a round trip: %v", s, err)
		}
		b, errBoard := DecodeCursor[duban.BoardCursor](s)
		if errBoard != nil {
			checkClientError(t, errBoard)
		} else if again, err := DecodeCursor[duban.BoardCursor](EncodeCursor(b)); err != nil || *again != *b {
			t.Fatalf("board cursor %q does not survive a round trip: %v", s, err)
		}
		if errList == nil && errBoard == nil {
			t.Fatalf("%q is a cursor of both lists", s)
		}
	})
}

// No body crashes the decoding of any command's request, and every refusal
// is a client error; times are read as the handlers read them.
func FuzzCommandBody(f *testing.F) {
	f.Add(uint8(1), []byte(`{"note":"swept","evidence":[{"url":"https://e.org/2.jpg","kind":"photo"}]}`))
	f.Add(uint8(2), []byte(`{"passed":true,"note":"clean"}`))
	f.Add(uint8(6), []byte(`{"until":"2026-11-30T18:00:00+08:00","reason":"crew booked"}`))
	f.Add(uint8(9), []byte(`{"reason":"rain","until":"tomorrow"}`))
	f.Add(uint8(4), []byte(`{"reason":1}`))
	f.Add(uint8(3), []byte(`{"text":"a"}{"text":"b"}`))
	f.Add(uint8(7), []byte(`{"approved":false,"note":"no"}`))
	// Every command's body, read as its route and the case pages read it
	// (caseCommands), then Decide: whatever the body, every refusal is a
	// client error.
	names := slices.Sorted(maps.Keys(caseCommands))
	supervisor := duban.CommandMeta{By: duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		name := names[int(kind)%len(names)]
		cmd, err := BuildCommand(name, body, supervisor, 1)
		if err == nil && cmd.Name() != name {
			t.Fatalf("%s built a %s", name, cmd.Name())
		}
		if err != nil {
			checkClientError(t, err)
			return
		}
		if _, err := duban.Decide(duban.Case{}, cmd, now); err != nil {
			checkClientError(t, err)
		}
	})
}

// No query string crashes the list's filters, and every refusal is a client
// error; a unit's filter is always its own unit.
func FuzzListQuery(f *testing.F) {
	f.Add("status=dispatched,in_progress&unit=sanitation&limit=50")
	f.Add("overdue=true&escalated=maybe&severity=urgent")
	f.Add("limit=0&limit=999")
	f.Add("cursor=Zm9v&area=%E8%80%81%E5%9F%8E")
	f.Add("status=&bogus=1")
	f.Add("q=2026-000123&opened_from=2026-12-01&opened_until=2026-11-30&reporter=inspector-1")
	f.Add("q=%25_%5C&opened_until=2026-02-30")
	unit := duban.Principal{ID: "sanitation-1", Role: duban.RoleUnit, Unit: "sanitation"}
	policy := duban.DefaultPolicy()
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // as r.URL.Query() reads it: bad pairs are dropped
		filter, _, err := ListQuery(q, policy, 50, 200)
		if err != nil {
			checkClientError(t, err)
			return
		}
		if filter.Limit < 1 || filter.Limit > 200 {
			t.Fatalf("%q: limit %d", raw, filter.Limit)
		}
		if scoped, _ := unit.ScopeList(filter); scoped.Unit != unit.Unit {
			t.Fatalf("%q lets a unit list unit %q", raw, scoped.Unit)
		}
	})
}

// No Authorization header crashes authentication: it is 401, with no token
// repeated in the answer, or the principal the token stands for.
func FuzzAuthorization(f *testing.F) {
	f.Add("Bearer dev-inspector")
	f.Add("bearer   dev-sanitation  ")
	f.Add("Basic ZGV2OmRldg==")
	f.Add("Bearer ")
	f.Add("Bearer dev-inspector\x00")
	s := &Server{Policy: duban.DefaultPolicy()}
	var got duban.Principal
	h := s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = principal(r)
		w.WriteHeader(http.StatusNoContent)
	}))
	f.Fuzz(func(t *testing.T, header string) {
		got = duban.Principal{}
		r := httptest.NewRequest("GET", "/v1/cases", nil)
		r.Header["Authorization"] = []string{header}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusNoContent:
			_, token, _ := strings.Cut(header, " ")
			if want, ok := s.Policy.Authenticate(strings.TrimSpace(token)); !ok || got != want {
				t.Fatalf("%q let in as %+v", header, got)
			}
		case http.StatusUnauthorized: // one of two fixed answers: nothing of the header comes back
			var problem struct{ Detail string }
			if err := json.Unmarshal(w.Body.Bytes(), &problem); err != nil ||
				(problem.Detail != "send Authorization: Bearer <token>" && problem.Detail != "unknown token") {
				t.Fatalf("the answer to %q: %s", header, w.Body)
			}
		default:
			t.Fatalf("%q: status %d", header, w.Code)
		}
	})
}

func checkClientError(t *testing.T, err error) {
	t.Helper()
	var e *duban.Error
	if !errors.As(err, &e) {
		t.Fatalf("%T is not a *duban.Error: %v", err, err)
	}
	if _, ok := statuses[e.Code]; !ok || e.Code == duban.EINTERNAL || e.Message == "" {
		t.Fatalf("error %+v is not a client error", e)
	}
}

// A case as sent is its view with the clock's fields and duplicates added:
// valid JSON, whatever the view ends with.
func TestWriteCase(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	deadline := now.Add(-time.Minute)
	c := duban.Case{ID: "c1", Status: duban.StatusSuspended, Suspension: &duban.Suspension{Reason: "rain", Since: now}}
	view, _ := json.Marshal(c.View())
	var b bytes.Buffer
	writeCase(&b, view, duban.Clock{Deadline: &deadline, Levels: []time.Time{deadline}}, []string{"d1", "d2"}, now)
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%s: %v", b.Bytes(), err)
	}
	if got["overdue"] != true || got["escalation_level"] != float64(1) || got["suspension"].(map[string]any)["reason"] != "rain" {
		t.Fatalf("%s", b.Bytes())
	}
	if d := got["duplicates"].([]any); len(d) != 2 {
		t.Fatalf("duplicates %v", d)
	}
}
