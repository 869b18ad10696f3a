package main

import (
	"context"
	"crypto/hmac"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban/outbox"
)

// chaosSecret signs the chaos subscription's webhooks; the duban processes
// read it from the environment.
const chaosSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// sink is the webhook receiver of the chaos subscription: it takes every
// delivery, counts each event's, and checks every signature.
type sink struct {
	srv *http.Server
	url string

	mu       sync.Mutex
	taken    map[string]int // event id → deliveries taken
	badSigns int
}

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k := &sink{url: "http://" + l.Addr().String() + "/hook", taken: map[string]int{}}
	key, err := outbox.ParseSecret(chaosSecret)
	if err != nil {
		return nil, err
	}
	k.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		k.mu.Lock()
		defer k.mu.Unlock()
		if !hmac.Equal([]byte(outbox.Sign(key, id, time.Unix(ts, 0), body)), []byte(r.Header.Get("webhook-signature"))) {
			k.badSigns++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		k.taken[id]++
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = k.srv.Serve(l) }()
	return k, nil
}

// policy is the chaos subscription, for the policy file.
func (k *sink) policy() string {
	return fmt.Sprintf(`subscriptions:
  - {name: chaos-sink, kind: webhook, url: %q, secret_env: CHAOS_SECRET, allow_private: true}
`, k.url)
}

// checkWebhooks compares what the sink took with the store's events: every
// event offered to the subscription (all of them, from its start) must
// have been taken at least once; a repeat carries the same webhook-id, and
// is counted. It waits up to three minutes for the last deliveries: an
// attempt cut short by a kill is sent again when its lease ends (a minute).
func checkWebhooks(ctx context.Context, dubanURL string, k *sink) (lost, badSigns []string, repeats int, err error) {
	conn, err := pgx.Connect(ctx, dubanURL)
	if err != nil {
		return nil, nil, 0, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id::text FROM events ORDER BY position`)
	if err != nil {
		return nil, nil, 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, 0, err
	}
	missing := func() []string {
		k.mu.Lock()
		defer k.mu.Unlock()
		var out []string
		for _, id := range ids {
			if k.taken[id] == 0 {
				out = append(out, id)
			}
		}
		return out
	}
	_ = retry(ctx, 3*time.Minute, func() error {
		if m := missing(); len(m) > 0 {
			return fmt.Errorf("%d events not delivered yet", len(m))
		}
		return nil
	})
	for _, id := range missing() {
		lost = append(lost, "event "+id+" never delivered to the subscription")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range k.taken {
		repeats += n - 1
	}
	if k.badSigns > 0 {
		badSigns = append(badSigns, fmt.Sprintf("%d deliveries with a bad signature", k.badSigns))
	}
	return lost, badSigns, repeats, nil
}
