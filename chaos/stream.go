package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// follower reads /v1/stream through the whole run as a browser's
// EventSource does: on any failure it connects again after a moment with
// the last event's id as Last-Event-ID. It starts before the first event,
// so it must receive every event in the store, each once.
type follower struct {
	base string

	mu         sync.Mutex
	positions  []int64
	last       int64
	connected  bool
	reconnects int
}

func (f *follower) run(ctx context.Context) {
	hc := &http.Client{}
	for ctx.Err() == nil {
		_ = f.follow(ctx, hc)
		sleep(ctx, 500*time.Millisecond)
		f.mu.Lock()
		f.reconnects++
		f.mu.Unlock()
	}
}

// follow reads one connection until it ends.
func (f *follower) follow(ctx context.Context, hc *http.Client) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", f.base+"/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer chaos-supervisor")
	f.mu.Lock()
	if f.last > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(f.last, 10))
	}
	f.mu.Unlock()
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("stream: %d", res.StatusCode)
	}
	f.mu.Lock()
	f.connected = true
	f.mu.Unlock()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "id: ")
		if !ok {
			continue
		}
		p, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.positions = append(f.positions, p)
		f.last = p
		f.mu.Unlock()
	}
	return sc.Err()
}

// waitConnected waits for the first connection.
func (f *follower) waitConnected(ctx context.Context, within time.Duration) error {
	return retry(ctx, within, func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.connected {
			return fmt.Errorf("the stream has not connected")
		}
		return nil
	})
}

// checkStream compares what the follower received with the store's events:
// each must have arrived exactly once. It waits up to a minute for the
// follower to reach the last event.
func checkStream(ctx context.Context, dubanURL string, f *follower) (missed, doubled []string, reconnects int, err error) {
	conn, err := pgx.Connect(ctx, dubanURL)
	if err != nil {
		return nil, nil, 0, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT position FROM events ORDER BY position`)
	if err != nil {
		return nil, nil, 0, err
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(stored) == 0 {
		return nil, nil, 0, err
	}
	last := stored[len(stored)-1]
	_ = retry(ctx, time.Minute, func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.last < last {
			return fmt.Errorf("the stream is at %d of %d", f.last, last)
		}
		return nil
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[int64]int{}
	for _, p := range f.positions {
		seen[p]++
	}
	for _, p := range stored {
		switch n := seen[p]; {
		case n == 0:
			missed = append(missed, fmt.Sprintf("event at position %d never arrived on the stream", p))
		case n > 1:
			doubled = append(doubled, fmt.Sprintf("event at position %d arrived %d times on the stream", p, n))
		}
	}
	return missed, doubled, f.reconnects, nil
}
