package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
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
	s := &Server{Policy: duban.DefaultPolicy(), Now: time.Now}
	inspector := duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/cases", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req openRequest
		if err := decode(r, &req, false); err != nil {
			checkClientError(t, err)
			return
		}
		cmd, problems := s.openCommand(inspector, req)
		_, err := duban.Decide(duban.Case{}, cmd, time.Now())
		if err != nil || len(problems) > 0 {
			checkClientError(t, withFieldErrors(err, problems))
		}
	})
}

// No cursor crashes decodeCursor; the ones it accepts encode back to themselves.
func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(duban.CaseCursor{OpenedAt: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), ID: "0194f2a0-0000-7000-8000-000000000000"}))
	f.Add("")
	f.Add("Zm9v")
	f.Add("eyJ0IjoieCJ9")
	f.Add("eyJ0IjoiMjAyNi0xMS0wMlQxNzowMDowMCswODowMCIsImlkIjoieCJ9") // {"t":"2026-11-02T17:00:00+08:00","id":"x"}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			checkClientError(t, err)
			return
		}
		if again, err := decodeCursor(encodeCursor(*c)); err != nil || again.ID != c.ID || !again.OpenedAt.Equal(c.OpenedAt) {
			t.Fatalf("cursor %q does not survive a round trip: %v", s, err)
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
