package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duban/duban/internal/harness"
)

// Tokens of the chaos policy.
const (
	inspectorToken = "chaos-inspector"
	unitToken      = "chaos-unit"
)

// step is one command a client gives a case, and how its event is found
// in the store: by the marker text it carries, or, for a command a case
// takes only once (acknowledge), by its type alone.
type step struct {
	kind, path, token string
	body              func(marker string) any
}

var steps = []step{
	{"acknowledge", "acknowledge", unitToken, func(string) any { return map[string]any{} }},
	{"comment", "comments", inspectorToken, func(m string) any { return map[string]any{"text": m} }},
	{"resolve", "resolve", unitToken, func(m string) any { return map[string]any{"note": m} }},
	{"verify", "verify", inspectorToken, func(m string) any { return map[string]any{"passed": true, "note": m} }},
}

// answered is a request duban answered 2xx: what the checks must find in
// the event store exactly once.
type answered struct {
	Kind   string `json:"kind"` // open or a step's kind
	CaseID string `json:"case_id"`
	Marker string `json:"marker"` // the description of an open, the text of a step
	// Sent is when the request was first sent, At when it was answered.
	Sent, At time.Time `json:"-"`
}

// ledger is what the clients saw.
type ledger struct {
	mu       sync.Mutex
	answered []answered
	// refused are requests answered 4xx: none is expected, each is shown.
	refused []string
	// unanswered counts requests still without an answer when the run ended.
	unanswered int
	// lastOpen is when the last case was opened.
	lastOpen time.Time

	count   atomic.Int64 // requests answered 2xx
	retries atomic.Int64 // requests repeated with their Idempotency-Key
}

func (l *ledger) refuse(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused = append(l.refused, what)
}

func (l *ledger) add(a answered) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.At.IsZero() {
		a.At = time.Now()
	}
	l.answered = append(l.answered, a)
	if a.Kind == "open" {
		l.lastOpen = a.At
	}
	l.count.Add(1)
}

// load is the steady traffic of the run: clients that open cases and take
// most of them through acknowledge, comment, resolve and verify, leaving
// every leaveEvery-th case untouched so that its deadlines come due.
type load struct {
	base     string
	http     *http.Client
	ledger   *ledger
	stopping atomic.Bool
	// patience bounds how long one request is repeated before it counts as
	// unanswered.
	patience time.Duration
}

const leaveEvery = 4

func newLoad(base string, clients int, l *ledger) *load {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = clients
	return &load{base: base, http: &http.Client{Transport: t, Timeout: 30 * time.Second}, ledger: l, patience: 5 * time.Minute}
}

// run is one client, until stop is asked; it finishes the request it is in.
func (ld *load) run(ctx context.Context, client int) {
	for n := 0; !ld.stopping.Load(); n++ {
		key := fmt.Sprintf("chaos-%d-%d-%d", time.Now().Unix(), client, n)
		description := "open " + key
		var opened struct {
			ID string `json:"id"`
		}
		sent := time.Now()
		ok, refusal := ld.post(ctx, "/v1/cases", inspectorToken, key, openBody(description), &opened)
		if refusal != "" {
			ld.ledger.refuse(refusal)
		}
		if !ok {
			continue
		}
		ld.ledger.add(answered{Kind: "open", CaseID: opened.ID, Marker: description, Sent: sent})
		if n%leaveEvery == 0 {
			continue // left to escalate
		}
		for _, st := range steps {
			marker := st.kind + " " + key
			ok, refusal := ld.post(ctx, "/v1/cases/"+opened.ID+"/"+st.path, st.token, key+"/"+st.kind, st.body(marker), nil)
			if refusal != "" {
				ld.ledger.refuse(refusal + "; the case's events: " + ld.history(ctx, opened.ID))
			}
			if !ok {
				break
			}
			ld.ledger.add(answered{Kind: st.kind, CaseID: opened.ID, Marker: marker})
		}
	}
}

func openBody(description string) map[string]any {
	return map[string]any{
		"category": "littering", "severity": "normal", "description": description,
		"location": map[string]any{"lat": 39.865, "lon": 111.238, "address": "Heping Rd bus stop", "area": "old-town"},
	}
}

// post sends a command with its Idempotency-Key and repeats it, with the
// same key, whenever the answer is in doubt (no answer, 5xx, 429), as a
// careful client does. It reports whether duban answered 2xx, and describes
// a 4xx answer.
func (ld *load) post(ctx context.Context, path, token, key string, body, out any) (bool, string) {
	payload, _ := json.Marshal(body)
	give := time.Now().Add(ld.patience)
	wait := 250 * time.Millisecond
	doubt := ""
	for attempt := 1; ; attempt++ {
		status, b, err := harness.Send(ctx, ld.http, http.MethodPost, ld.base+path, token, key, payload)
		switch {
		case err == nil && status/100 == 2:
			if out != nil {
				_ = json.Unmarshal(b, out)
			}
			return true, ""
		case err == nil && status != http.StatusTooManyRequests && status/100 == 4:
			// Never expected: each client's commands are allowed in the
			// order it gives them. After a doubtful attempt, a refusal
			// means the repeat was not recognised as the same command.
			return false, fmt.Sprintf("%s POST %s (attempt %d, after %q): %d %s", time.Now().Format(time.TimeOnly), path, attempt, doubt, status, bytes.TrimSpace(b))
		}
		if err != nil {
			doubt = err.Error()
		} else {
			doubt = fmt.Sprintf("%d %s", status, bytes.TrimSpace(b))
		}
		if time.Now().After(give) || ctx.Err() != nil {
			ld.ledger.mu.Lock()
			ld.ledger.unanswered++
			ld.ledger.mu.Unlock()
			return false, ""
		}
		ld.ledger.retries.Add(1)
		time.Sleep(wait)
		wait = min(2*wait, 2*time.Second)
	}
}

// history lists a case's events (version, type, time), to explain a
// refusal.
func (ld *load) history(ctx context.Context, caseID string) string {
	_, b, err := harness.Send(ctx, ld.http, http.MethodGet, ld.base+"/v1/cases/"+caseID+"/events", inspectorToken, "", nil)
	if err != nil {
		return err.Error()
	}
	var page struct {
		Items []struct {
			Version    int64     `json:"version"`
			Type       string    `json:"type"`
			OccurredAt time.Time `json:"occurred_at"`
		} `json:"items"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return err.Error()
	}
	var out []string
	for _, e := range page.Items {
		out = append(out, fmt.Sprintf("v%d %s %s", e.Version, e.Type, e.OccurredAt.Format(time.TimeOnly)))
	}
	return strings.Join(out, ", ")
}
