package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/duban/duban/internal/harness"
)

// caller talks to duban's API like a client application: keep-alive
// connections, one per concurrent caller; every POST carries an
// Idempotency-Key and is repeated with it, a few times, when the answer is
// 503 (the engine was busy or did not answer in time).
type caller struct {
	base string
	http *http.Client
}

// repeated503 counts the POSTs repeated after a 503, over a stack's run.
var repeated503 atomic.Int64

func newCaller(base string, clients int) *caller {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = clients * 2
	return &caller{base: base, http: &http.Client{Transport: t, Timeout: 2 * time.Minute}}
}

// call sends a request and decodes a JSON answer into out (if not nil); a
// status other than want is an error.
func (c *caller) call(method, path, token string, body any, want int, out any) error {
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	key := ""
	if method == http.MethodPost {
		key = uuid.NewString()
	}
	for attempt := 1; ; attempt++ {
		status, b, err := c.send(method, path, token, payload, key)
		if err != nil {
			return err
		}
		if status == http.StatusServiceUnavailable && key != "" && attempt < 4 {
			repeated503.Add(1)
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
			continue
		}
		if status != want {
			return fmt.Errorf("%s %s: %d %s", method, path, status, b)
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
}

func (c *caller) send(method, path, token string, payload []byte, key string) (int, []byte, error) {
	return harness.Send(context.Background(), c.http, method, c.base+path, token, key, payload)
}

type wireCase struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	Overdue         bool   `json:"overdue"`
	EscalationLevel int    `json:"escalation_level"`
}

func openBody(category string) map[string]any {
	return map[string]any{
		"category": category, "severity": "normal", "description": "bags dumped at the bus stop on Heping Road",
		"location": map[string]any{"lat": 39.865, "lon": 111.238, "address": "Heping Rd bus stop", "area": "old-town"},
		"evidence": []map[string]string{{"url": "https://example.org/photos/1.jpg", "kind": "photo"}},
	}
}

// timedFor measures op from clients goroutines for d.
func timedFor(clients int, d time.Duration, op func() error) (dist, error) {
	var lat latencies
	_, err := run(clients, forDuration(d), func(int) error {
		t := time.Now()
		if err := op(); err != nil {
			return err
		}
		lat.add(time.Since(t))
		return nil
	})
	return lat.dist(), err
}

// timed measures op n times from clients goroutines.
func timed(clients, n int, op func() error) (dist, error) {
	var lat latencies
	err := timedInto(&lat, clients, n, op)
	return lat.dist(), err
}

// timedInto measures op n times from clients goroutines into lat.
func timedInto(lat *latencies, clients, n int, op func() error) error {
	_, err := run(clients, forCount(int64(n)), func(int) error {
		t := time.Now()
		if err := op(); err != nil {
			return err
		}
		lat.add(time.Since(t))
		return nil
	})
	return err
}
