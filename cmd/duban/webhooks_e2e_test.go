package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duban/duban/outbox"
)

// A subscription of the policy takes the events of the whole stack, signed;
// its failed deliveries are listed and replayed through the API.
func TestWebhookSubscription(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	var mu sync.Mutex
	var got []string // event types, as taken
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key, _ := outbox.ParseSecret(secret)
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		if outbox.Sign(key, r.Header.Get("webhook-id"), time.Unix(ts, 0), body) != r.Header.Get("webhook-signature") {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var msg struct{ Type string }
		json.Unmarshal(body, &msg)
		mu.Lock()
		got = append(got, msg.Type)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := newStack(t, shortPolicy+`subscriptions:
  - {name: city-data, kind: webhook, url: "`+srv.URL+`/hook", secret_env: CITY_SECRET, allow_private: true,
     events: [CaseDispatched, CaseAcknowledged]}
`)
	s.env = map[string]string{"CITY_SECRET": secret}
	s.start("serve")
	time.Sleep(500 * time.Millisecond) // the subscription's cursor is placed at the log's end
	var c wireCase
	s.call("POST", "/v1/cases", "dev-inspector", littering).Expect(t, 201, &c)
	s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil).Expect(t, 200, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	if len(got) != 2 || got[0] != "CaseDispatched" || got[1] != "CaseAcknowledged" {
		t.Fatalf("the receiver took %v, want CaseDispatched then CaseAcknowledged (and nothing else)", got)
	}
	mu.Unlock()

	var failed struct{ Items []map[string]any }
	s.call("GET", "/v1/subscriptions/city-data/failed", "dev-supervisor", nil).Expect(t, 200, &failed)
	if len(failed.Items) != 0 {
		t.Fatalf("failed deliveries: %v", failed.Items)
	}
	var replayed struct{ Replayed int }
	s.call("POST", "/v1/subscriptions/city-data/replay", "dev-admin", nil).Expect(t, 200, &replayed)
	s.call("GET", "/v1/subscriptions/city-data/failed", "dev-sanitation", nil).Expect(t, 403, nil)
	s.call("GET", "/v1/subscriptions/nobody/failed", "dev-supervisor", nil).Expect(t, 404, nil)
	if body := string(s.call("GET", "/metrics", "", nil).Body); !strings.Contains(body, `duban_outbox_pending{subscription="city-data"} 0`) ||
		!strings.Contains(body, `duban_outbox_failed{subscription="city-data"} 0`) {
		t.Errorf("the metrics lack the outbox's depth:\n%s", body)
	}
}
