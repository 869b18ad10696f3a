package web

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

func BenchmarkBoardParts(b *testing.B) {
	p := duban.DefaultPolicy()
	now := time.Now()
	var ls []app.Listed
	for i := range 1000 {
		c := duban.Case{ID: "0194f2a0-0000-7000-8000-0000000000" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)), Status: duban.StatusDispatched, Category: "littering",
			Severity: duban.SeverityNormal, Description: "bags dumped at the bus stop on Heping Road", Unit: "sanitation",
			Location: duban.Location{Lat: 39.8, Lon: 111.2, Address: "Heping Rd bus stop", Area: "old-town"}, OpenedAt: now, UpdatedAt: now, Version: 3}
		v, _ := json.Marshal(c.View())
		d := now.Add(-time.Hour)
		ls = append(ls, app.Listed{ID: c.ID, Unit: "sanitation", View: v, Clock: duban.Clock{Deadline: &d, Levels: []time.Time{d}}})
	}
	s := &Server{Policy: p}
	h, err := s.Handler()
	_ = h
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			s.views.m = nil
			s.decodeListed(ls, now)
		}
	})
	b.Run("decode again", func(b *testing.B) {
		for b.Loop() {
			s.decodeListed(ls, now)
		}
	})
	cs, _ := s.decodeListed(ls, now)
	draw := func(b *testing.B, fresh bool) {
		r := httptest.NewRequest("GET", "/board", nil)
		for b.Loop() {
			if fresh {
				s.rows.m = nil
			}
			pg := s.newPage(r, "board.title")
			d := boardData{Levels: make([]int, 4)}
			for _, c := range cs {
				row, err := s.rows.draw(s.pages["board"], "board-row", pg.boardRow(c))
				if err != nil {
					b.Fatal(err)
				}
				d.Rows = append(d.Rows, row)
			}
			pg.Data = d
			pg.Part = "board-part"
			s.pages["board"].ExecuteTemplate(io.Discard, "board-part", pg)
		}
	}
	b.Run("template", func(b *testing.B) { draw(b, true) })
	b.Run("template, rows kept", func(b *testing.B) { draw(b, false) })
}
