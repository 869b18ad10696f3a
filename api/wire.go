package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// writeCase appends a case as sent to b: its view, with overdue and
// escalation_level read off the clock at now, and the cases merged into it.
func writeCase(b *bytes.Buffer, view []byte, clock duban.Clock, duplicates []string, now time.Time) {
	view = bytes.TrimSpace(view)
	b.Write(view[:len(view)-1]) // a JSON object: all but its closing brace
	b.WriteString(`,"overdue":`)
	b.WriteString(strconv.FormatBool(clock.Overdue(now)))
	b.WriteString(`,"escalation_level":`)
	b.WriteString(strconv.Itoa(clock.Level(now)))
	if len(duplicates) > 0 {
		d, _ := json.Marshal(duplicates)
		b.WriteString(`,"duplicates":`)
		b.Write(d)
	}
	b.WriteByte('}')
}

// replyCase answers with one case, whole, and its version as ETag.
func (s *Server) replyCase(w http.ResponseWriter, status int, c duban.Case, duplicates []string) {
	view, err := json.Marshal(c.View())
	if err != nil {
		panic(err) // a View always marshals
	}
	s.replyListed(w, status, app.Listed{Version: c.Version, View: view, Clock: c.Clock(), Duplicates: duplicates})
}

// replyListed answers with one case as stored for reads.
func (s *Server) replyListed(w http.ResponseWriter, status int, l app.Listed) {
	var b bytes.Buffer
	writeCase(&b, l.View, l.Clock, l.Duplicates, s.Now())
	b.WriteByte('\n')
	w.Header().Set("ETag", etag(l.Version))
	replyRaw(w, status, b.Bytes())
}

// replyList answers {"items": [...], "next_cursor": ...}: next is the
// opaque position of the next page, "" (null) on the last.
func (s *Server) replyList(w http.ResponseWriter, cases []app.Listed, next string) {
	now := s.Now()
	b := listBuffers.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= 4<<20 {
			b.Reset()
			listBuffers.Put(b)
		}
	}()
	size := 64 + len(next)
	for _, l := range cases {
		size += len(l.View) + 64 + 40*len(l.Duplicates)
	}
	b.Grow(size)
	b.WriteString(`{"items":[`)
	for i, l := range cases {
		if i > 0 {
			b.WriteByte(',')
		}
		writeCase(b, l.View, l.Clock, l.Duplicates, now)
	}
	b.WriteString(`],"next_cursor":`)
	if next == "" {
		b.WriteString("null")
	} else {
		c, _ := json.Marshal(next)
		b.Write(c)
	}
	b.WriteString("}\n")
	replyRaw(w, http.StatusOK, b.Bytes())
}

// listBuffers are the buffers pages of cases are written in, kept for the
// next page: a page is up to a few hundred KiB, each a collection's worth
// of garbage otherwise.
var listBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// items is a list answered whole.
type items[T any] struct {
	Items []T `json:"items"`
}

// cursor is a position in a list, as the API gives it out.
type cursor interface {
	duban.CaseCursor | duban.BoardCursor | siteCursor
}

// EncodeCursor makes a list position opaque to clients; "" for none.
func EncodeCursor[C cursor](c *C) string {
	if c == nil {
		return ""
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a position EncodeCursor gave out for the same list.
func DecodeCursor[C cursor](s string) (*C, error) {
	invalid := duban.Invalid(duban.Field("cursor", "is not a cursor this API gave out for this list"))
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 256 {
		return nil, invalid
	}
	var c C
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, invalid
	}
	switch c := any(&c).(type) {
	case *duban.CaseCursor:
		if c.ID == "" || c.OpenedAt.IsZero() {
			return nil, invalid
		}
		c.OpenedAt = c.OpenedAt.UTC()
	case *duban.BoardCursor:
		if c.ID == "" || c.Deadline.IsZero() || c.Level < 0 {
			return nil, invalid
		}
		c.Deadline = c.Deadline.UTC()
	}
	return &c, nil
}
