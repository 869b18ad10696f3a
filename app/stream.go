package app

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/duban/duban"
)

// LogCursor is a place in the event log as readers of the whole log read
// it: ordered by the writing transaction, then by position. Positions alone
// would not do: transactions commit out of order, so a reader that has seen
// position 10 may yet see 9 commit. Reading only events whose transactions
// ended before the oldest one still running began, in this order, a reader
// never skips an event that commits late.
type LogCursor struct {
	Tx       uint64
	Position int64
}

// After reports whether c is past d.
func (c LogCursor) After(d LogCursor) bool {
	return c.Tx > d.Tx || c.Tx == d.Tx && c.Position > d.Position
}

// Logged is an event of the log, with the unit its case is assigned to as
// the event is read: who may see it.
type Logged struct {
	duban.Event
	Unit   string
	Cursor LogCursor
}

// LogStore is the event log read whole, in the order of LogCursor.
type LogStore interface {
	// Log returns up to limit events after the cursor, of transactions that
	// ended before the oldest one still running began.
	Log(ctx context.Context, after LogCursor, limit int) ([]Logged, error)
	// LogCursorAt returns the cursor of the event at position, ENOTFOUND
	// when there is none; for position 0, the cursor before the first event
	// Log has yet to return to anyone (the log's end, now).
	LogCursorAt(ctx context.Context, position int64) (LogCursor, error)
}

// Feed follows the event log for every stream an API process serves: one
// reader polls the store and keeps the latest events in memory, and each
// stream takes what it may see from there at its own pace. A stream that
// stops reading holds nothing but its cursor; one that falls behind the
// memory reads the store itself until it has caught up.
type Feed struct {
	Store LogStore
	// Poll is how often the store is read (default 100 ms): the most an
	// event waits before the streams have it.
	Poll time.Duration
	// Keep is how many of the latest events are kept (default 4,096).
	Keep   int
	Logger *slog.Logger

	mu     sync.Mutex
	recent []Logged      // every event after base up to end, oldest first
	base   LogCursor     // the cursor before the oldest event held
	end    LogCursor     // the cursor of the last event read
	ready  bool          // base and end have been read from the store
	moved  chan struct{} // closed, and replaced, when events arrive
}

func (f *Feed) poll() time.Duration {
	if f.Poll <= 0 {
		return 100 * time.Millisecond
	}
	return f.Poll
}

func (f *Feed) keep() int {
	if f.Keep <= 0 {
		return 4096
	}
	return f.Keep
}

// Run reads the log until ctx ends.
func (f *Feed) Run(ctx context.Context) {
	logger := f.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ticker := time.NewTicker(f.poll())
	defer ticker.Stop()
	failing := false
	for {
		err := f.read(ctx)
		if err != nil && !failing && ctx.Err() == nil {
			logger.Warn("the event feed cannot read the log", "error", err)
		} else if err == nil && failing {
			logger.Info("the event feed reads the log again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// read takes what the log has past the feed's end.
func (f *Feed) read(ctx context.Context) error {
	f.mu.Lock()
	end, ready := f.end, f.ready
	f.mu.Unlock()
	if !ready {
		c, err := f.Store.LogCursorAt(ctx, 0)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.base, f.end, f.ready, end = c, c, true, c
		f.signal()
		f.mu.Unlock()
	}
	for {
		events, err := f.Store.Log(ctx, end, 500)
		if err != nil || len(events) == 0 {
			return err
		}
		end = events[len(events)-1].Cursor
		f.mu.Lock()
		f.recent = append(f.recent, events...)
		if over := len(f.recent) - f.keep(); over > 0 {
			f.base = f.recent[over-1].Cursor
			f.recent = append([]Logged(nil), f.recent[over:]...)
		}
		f.end = end
		f.signal()
		f.mu.Unlock()
		if len(events) < 500 {
			return nil
		}
	}
}

// signal wakes the streams waiting; f.mu is held.
func (f *Feed) signal() {
	if f.moved != nil {
		close(f.moved)
	}
	f.moved = make(chan struct{})
}

// since returns the events after c that the feed holds, the cursor to go
// on from, and a channel closed when there is more. held is false when the
// feed does not hold every event after c: c is older than its memory, or it
// has not read the log yet.
func (f *Feed) since(c LogCursor) (events []Logged, next LogCursor, moved <-chan struct{}, held bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.moved == nil {
		f.moved = make(chan struct{})
	}
	if !f.ready || f.base.After(c) {
		return nil, c, f.moved, false
	}
	if !f.end.After(c) {
		return nil, c, f.moved, true
	}
	i, _ := slices.BinarySearchFunc(f.recent, c, func(e Logged, c LogCursor) int {
		if e.Cursor.After(c) {
			return 1
		}
		return -1
	})
	return f.recent[i:len(f.recent):len(f.recent)], f.end, f.moved, true
}

// Stream is one reader's way through the log: the events its principal may
// see, a batch at a time.
type Stream struct {
	feed   *Feed
	by     duban.Principal
	cursor LogCursor
}

// Stream returns a stream of the events of the log that by may see, from
// the one after position from (a Last-Event-ID; 0: from now on). A unit
// sees only the events of the cases assigned to it as the event is read.
func (s *Service) Stream(ctx context.Context, by duban.Principal, from int64) (*Stream, error) {
	if s.Feed == nil {
		return nil, duban.Errorf(duban.EINTERNAL, "this process serves no event stream")
	}
	if from < 0 {
		return nil, duban.Invalid(duban.Field("Last-Event-ID", "is not the position of an event"))
	}
	cursor, err := s.Feed.Store.LogCursorAt(ctx, from)
	if duban.ErrorCode(err) == duban.ENOTFOUND {
		return nil, duban.Invalid(duban.Field("Last-Event-ID", "is not the position of an event"))
	} else if err != nil {
		return nil, err
	}
	return &Stream{feed: s.Feed, by: by, cursor: cursor}, nil
}

// Next waits for the next events the stream's principal may see and
// returns them, in the log's order; when ctx ends first, it returns none
// and ctx's error.
func (st *Stream) Next(ctx context.Context) ([]duban.Event, error) {
	for {
		events, next, moved, held := st.feed.since(st.cursor)
		if !held {
			// Behind the feed's memory: read the store until caught up.
			var err error
			if events, err = st.feed.Store.Log(ctx, st.cursor, 500); err != nil {
				return nil, err
			}
			if len(events) > 0 {
				next = events[len(events)-1].Cursor
			}
		}
		st.cursor = next
		var visible []duban.Event
		for _, e := range events {
			if st.by.CanSeeAssigned(e.Unit) {
				visible = append(visible, e.Event)
			}
		}
		if len(visible) > 0 {
			return visible, nil
		}
		if !held && len(events) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-moved:
		}
	}
}
