package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// Streamer opens streams of the event log.
type Streamer interface {
	Stream(ctx context.Context, by duban.Principal, from int64) (*app.Stream, error)
}

// streamHeartbeat is how often a quiet stream sends a comment, so that
// proxies keep it open and a client that has gone is noticed.
const streamHeartbeat = 15 * time.Second

// streamWriteTimeout bounds each write to a stream: a client that stops
// reading is dropped, and holds nothing once it is.
const streamWriteTimeout = 10 * time.Second

// stream serves GET /v1/stream: the events the principal may see as
// server-sent events, each with its position as the event id, from the one
// after Last-Event-ID (or ?after=) when given, else from now on.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	from := r.Header.Get("Last-Event-ID")
	if from == "" {
		from = r.URL.Query().Get("after")
	}
	var position int64
	if from != "" {
		var err error
		if position, err = strconv.ParseInt(from, 10, 64); err != nil || position < 0 {
			fail(w, r, duban.Invalid(duban.Field("Last-Event-ID", "must be an event's position")))
			return
		}
	}
	if s.Streams == nil {
		fail(w, r, duban.Errorf(duban.EINTERNAL, "this process serves no event stream"))
		return
	}
	st, err := s.Streams.Stream(r.Context(), principal(r), position)
	if err != nil {
		fail(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	// A stream outlives the server's read timeout: lift it, so that the
	// request is not ended under it. Each write has its own deadline.
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// retry: how long a browser waits before reconnecting.
	if write(rc, w, []byte("retry: 2000\n\n")) != nil {
		return
	}
	// The stream ends when the client goes, or the server shuts down: a
	// stream is never idle, so the server would wait for it otherwise.
	streamCtx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.streams().ctx, cancel)
	defer stop()
	for {
		ctx, cancel := context.WithTimeout(streamCtx, streamHeartbeat)
		events, err := st.Next(ctx)
		cancel()
		switch {
		case streamCtx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded):
			if write(rc, w, []byte(": still here\n\n")) != nil {
				return
			}
			continue
		case err != nil:
			logger(r).Warn("stream: read the log", "error", err)
			return // the browser reconnects with its Last-Event-ID
		}
		var buf []byte
		for _, e := range events {
			data, err := json.Marshal(e)
			if err != nil {
				logger(r).Error("stream: encode an event", "error", err, "position", e.Position)
				return
			}
			buf = fmt.Appendf(buf, "id: %d\ndata: %s\n\n", e.Position, data)
		}
		if write(rc, w, buf) != nil {
			return
		}
	}
}

// CloseStreams ends every stream the server serves; the clients reconnect
// (to another process, or to this one started again). Call it when the
// HTTP server shuts down (http.Server.RegisterOnShutdown).
func (s *Server) CloseStreams() { s.streams().cancel() }

// streamsDone is cancelled by CloseStreams.
type streamsDone struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func (s *Server) streams() streamsDone {
	s.streamsOnce.Do(func() { s.streamsDone.ctx, s.streamsDone.cancel = context.WithCancel(context.Background()) })
	return s.streamsDone
}

// write writes b to the stream and flushes it, within streamWriteTimeout.
func write(rc *http.ResponseController, w http.ResponseWriter, b []byte) error {
	if err := rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}
