package web

import (
	"html/template"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/duban/duban"
)

// The map's drawing of mapLimit cases and 1,200 sites, its data made: every
// marker drawn, and the page around them.
func BenchmarkMapDrawing(b *testing.B) {
	s := &Server{Policy: duban.DefaultPolicy()}
	if _, err := s.Handler(); err != nil {
		b.Fatal(err)
	}
	pg := s.newPage(httptest.NewRequest("GET", "/map", nil), "map.title")
	d := mapData{Width: 1200, Height: 900, Levels: make([]int, 4)}
	for i := range 1200 {
		d.Sites = append(d.Sites, mapPoint{ID: "m-" + strconv.Itoa(i), Label: "和平路公交站 · 公交站点", X: float64(i % 1200), Y: float64(i % 900)})
	}
	var cases []mapCase
	for i := range mapLimit {
		id := "0194f2a0-0000-7000-8000-" + strconv.Itoa(100000000000+i)
		cases = append(cases, mapCase{mapPoint: mapPoint{ID: id, Label: "2026-000123 乱扔垃圾 · 处置中 · 二级", X: float64(i%1200) + 0.5, Y: float64(i%900) + 0.5},
			Level: i % 4, Overdue: i%2 == 0, Listed: i%10 == 0})
	}
	for b.Loop() {
		var markers strings.Builder
		for _, c := range cases {
			c.draw(&markers)
		}
		d.Markers = template.HTML(markers.String())
		pg.Data = d
		pg.Part = "map-part"
		if err := s.pages["map"].ExecuteTemplate(io.Discard, "map-part", pg); err != nil {
			b.Fatal(err)
		}
	}
}
