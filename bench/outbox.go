package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// The outbox: how soon a subscription's receiver has an event after it was
// committed, at the bench's command rate, and what delivering costs the
// commands, measured beside bare Updates in the same rounds.

// outboxFigures are what the outbox phase measured.
type outboxFigures struct {
	// Lag is, per delivery, from the event's time to its arrival at the
	// receiver (loopback, answering at once).
	Lag       dist `json:"delivery_lag"`
	Delivered int  `json:"delivered"`
	Missing   int  `json:"missing"`
	// Others counts the deliveries of events of other cases (the earlier
	// phases' cases, warned or escalated meanwhile): delivered, not timed.
	Others int `json:"others,omitempty"`
	// Commands and Bare are the commands' and the bare Updates' latencies
	// while the subscription was delivering.
	Commands dist `json:"command_latency"`
	Bare     dist `json:"ceiling_update_latency"`
}

// benchSecret signs the bench subscription's webhooks.
const benchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// measureOutbox runs commands on fresh cases with a webhook subscription
// delivering every event to a receiver here, then starts duban again on the
// main policy.
func measureOutbox(ctx context.Context, r *benchRun) error {
	type arrival struct {
		caseID string
		lag    time.Duration
	}
	arrivals := map[string]arrival{} // event id → its case, its lag
	var mu sync.Mutex
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(req.Body)
		var msg struct {
			Data struct {
				ID         string    `json:"id"`
				CaseID     string    `json:"case_id"`
				OccurredAt time.Time `json:"occurred_at"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &msg) == nil {
			mu.Lock()
			if _, seen := arrivals[msg.Data.ID]; !seen {
				arrivals[msg.Data.ID] = arrival{msg.Data.CaseID, at.Sub(msg.Data.OccurredAt)}
			}
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	r.s.env = []string{"BENCH_SECRET=" + benchSecret}
	defer func() { r.s.env = nil }()
	policy := mainPolicy + fmt.Sprintf(`subscriptions:
  - {name: bench-sink, kind: webhook, url: "http://%s/hook", secret_env: BENCH_SECRET, allow_private: true}
`, l.Addr())
	if err := r.restartDuban(ctx, policy); err != nil {
		return err
	}
	time.Sleep(time.Second) // the subscription's cursor is placed at the log's end

	const rounds = 4
	perRound := int64(r.z.Commands / rounds)
	n := int(perRound) * rounds / len(commandSteps)
	r.logf("  outbox: %d cases opened, then %d commands beside as many bare Updates, every event delivered to a receiver on loopback", n, r.z.Commands)
	flat, err := openCount(r.c, r.z.Clients, n+r.z.Clients, "littering")
	if err != nil {
		return err
	}
	ids := make([][]string, r.z.Clients)
	for i, id := range flat {
		ids[i%len(ids)] = append(ids[i%len(ids)], id)
	}
	cmds, bare := newCommandRun(ids), newUpdateRun(r.bareIDs, 0)
	var bareUpdates tally
	for range rounds {
		if err := ceilingUpdate(ctx, r.s.tc, bare, forCount(perRound), &bareUpdates); err != nil {
			return err
		}
		if err := dubanCommands(r.c, cmds, forCount(perRound)); err != nil {
			return err
		}
	}
	store, err := r.dubanStore(ctx)
	if err != nil {
		return err
	}
	want, ours := 0, map[string]bool{}
	for _, id := range flat {
		ours[id] = true
		events, err := store.Events(ctx, id)
		if err != nil {
			return err
		}
		want += len(events)
	}
	var lags []time.Duration
	others := 0
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		lags, others = lags[:0], 0
		for _, a := range arrivals {
			if ours[a.caseID] {
				lags = append(lags, a.lag)
			} else {
				others++
			}
		}
		mu.Unlock()
		if len(lags) >= want || time.Now().After(deadline) {
			break
		}
	}
	f := &outboxFigures{Lag: summarize(lags), Delivered: len(lags), Missing: max(0, want-len(lags)), Others: others,
		Commands: cmds.all.lat.dist(), Bare: bareUpdates.lat.dist()}
	r.fig.Outbox = f
	r.logf("  outbox: %d of %d events delivered (and %d of earlier phases' cases), lag p50 %.0f ms, p99 %.0f ms; commands p99 %.0f ms beside bare Updates' %.0f ms",
		f.Delivered, want, f.Others, f.Lag.P50, f.Lag.P99, f.Commands.P99, f.Bare.P99)
	return r.restartDuban(ctx, mainPolicy)
}

// outboxRows are the outbox phase's rows.
func outboxRows(f *outboxFigures) []row {
	lagMet := f.Lag.P99 <= 1000 && f.Missing == 0
	return []row{
		alone(fmt.Sprintf("webhook delivery lag, %d events, p99", f.Delivered), "ms", f.Lag.P99, "≤ 1000 ms, none missing", &lagMet),
		alone("webhook delivery lag, p50", "ms", f.Lag.P50, "", nil),
		compare("command latency p99 while delivering (vs bare Update)", "ms", f.Commands.P99, f.Bare.P99, 0, false),
	}
}
