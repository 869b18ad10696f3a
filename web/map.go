package web

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/duban/duban"
)

// The map (一张图): the sites and the open cases over the policy's area
// outlines, drawn here as SVG: no tile server, no script needed to see it
// (live.js redraws it as the stream says cases move).

// mapWidth is the map's width in SVG units; its height follows the
// city's shape.
const mapWidth = 1000

// mapLimit bounds the open cases a map draws.
const mapLimit = 20000

type mapData struct {
	Width, Height int
	// Tiles are the city's tiles under the map (none without a tile
	// server in the policy), Attribution what their licence asks shown.
	Tiles       []mapTile
	Attribution string
	Areas       []mapArea
	Sites       []mapPoint
	// Markers are the cases' markers (mapCase.draw).
	Markers template.HTML
	// Levels counts the cases drawn at each escalation level (0: on
	// time or warned); Listed the listed ones; Outside those whose place
	// is off the map, not drawn.
	Levels          []int
	Listed, Outside int
	More            bool
}

type mapTile struct {
	URL  string
	X, Y float64
}

type mapArea struct {
	Name, Path string
	X, Y       float64 // where its name goes
}

type mapPoint struct {
	ID, Label string
	X, Y      float64
}

type mapCase struct {
	mapPoint
	Level           int
	Overdue, Listed bool
}

// draw writes c's marker to b: a link to the case around a circle coloured
// by its level, ringed when the case is listed (挂牌). The map draws up to
// mapLimit of them, so they are written here rather than by html/template,
// which escapes each field by reflection: 8.6 µs a marker, 170 ms for
// 20,000, most of a first draw (BenchmarkMapDrawing). Every value is
// escaped for where it goes (TestMapMarkerEscapes).
func (c mapCase) draw(b *strings.Builder) {
	id, label := html.EscapeString(c.ID), html.EscapeString(c.Label)
	x, y := strconv.FormatFloat(c.X, 'g', -1, 64), strconv.FormatFloat(c.Y, 'g', -1, 64)
	b.WriteString(`<a href="/cases/`)
	b.WriteString(html.EscapeString(url.PathEscape(c.ID)))
	b.WriteString(`" data-case="`)
	b.WriteString(id)
	b.WriteString(`" aria-label="`)
	b.WriteString(label)
	b.WriteString(`">`)
	if c.Listed {
		b.WriteString(`<circle class="plate-ring" cx="` + x + `" cy="` + y + `" r="10"></circle>`)
	}
	class := "on-time"
	if c.Overdue {
		class = "level-" + strconv.Itoa(c.Level)
	}
	b.WriteString(`<circle class="case ` + class + `" cx="` + x + `" cy="` + y + `" r="6"><title>`)
	b.WriteString(label)
	b.WriteString(`</title></circle></a>`)
}

// projection places [lon, lat] on the map, north up: equirectangular
// around the bounds' middle latitude; or, under a city's tiles, Web
// Mercator at the zoom that fits the bounds in the map's width, in that
// zoom's pixels from the bounds' north-west corner.
type projection struct {
	b     duban.Bounds
	scale float64 // SVG units per degree of longitude (equirectangular)
	cos   float64
	// Under tiles: the zoom, and the north-west corner in its pixels.
	tiles        bool
	zoom         int
	west, north  float64
	width, depth float64
}

func newProjection(b duban.Bounds, tiles bool) projection {
	if !tiles {
		cos := math.Cos((b.MinLat + b.MaxLat) / 2 * math.Pi / 180)
		return projection{b: b, cos: cos, scale: mapWidth / math.Max((b.MaxLon-b.MinLon), 1e-9)}
	}
	p := projection{b: b, tiles: true}
	// The largest zoom at which the bounds fit the map's width.
	for p.zoom = 18; p.zoom > 0; p.zoom-- {
		west, _ := mercator(b.MinLon, b.MaxLat, p.zoom)
		east, _ := mercator(b.MaxLon, b.MaxLat, p.zoom)
		if east-west <= mapWidth {
			break
		}
	}
	p.west, p.north = mercator(b.MinLon, b.MaxLat, p.zoom)
	east, south := mercator(b.MaxLon, b.MinLat, p.zoom)
	p.width, p.depth = east-p.west, south-p.north
	return p
}

// mercator is where lon, lat fall in the pixels of Web Mercator zoom z.
func mercator(lon, lat float64, z int) (float64, float64) {
	size := 256 * math.Exp2(float64(z))
	rad := lat * math.Pi / 180
	return (lon + 180) / 360 * size, (1 - math.Log(math.Tan(rad)+1/math.Cos(rad))/math.Pi) / 2 * size
}

func (p projection) xy(lon, lat float64) (float64, float64) {
	if p.tiles {
		x, y := mercator(lon, lat, p.zoom)
		return round1(x - p.west), round1(y - p.north)
	}
	return round1((lon - p.b.MinLon) * p.scale), round1((p.b.MaxLat - lat) * p.scale / p.cos)
}

// size is the map's width and height in SVG units.
func (p projection) size() (int, int) {
	if p.tiles {
		return int(math.Ceil(p.width)), int(math.Ceil(p.depth))
	}
	return mapWidth, int(math.Ceil((p.b.MaxLat - p.b.MinLat) * p.scale / p.cos))
}

// tilesUnder are the tiles of the city's server that cover the map.
func (p projection) tilesUnder(m *duban.MapTiles) []mapTile {
	var out []mapTile
	n := int(math.Exp2(float64(p.zoom)))
	for ty := int(p.north / 256); float64(ty*256) < p.north+p.depth && ty < n; ty++ {
		for tx := int(p.west / 256); float64(tx*256) < p.west+p.width && tx < n; tx++ {
			out = append(out, mapTile{URL: m.Tile(p.zoom, tx, ty), X: round1(float64(tx*256) - p.west), Y: round1(float64(ty*256) - p.north)})
		}
	}
	return out
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// cityMap draws the map for the office; with ?part=map only its live
// region.
func (s *Server) cityMap(w http.ResponseWriter, r *http.Request) {
	by := session(r).Principal
	if err := by.MayReadMap(); err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.newPage(r, "map.title")
	d := mapData{Levels: make([]int, 4)}
	// The open cases (the first mapLimit) and the active sites.
	cases, more, err := s.App.MapCases(r.Context(), by, mapLimit)
	var sites []duban.Site
	if err == nil {
		sites, err = s.App.ActiveSites(r.Context(), by)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.More = more
	b, ok := s.Policy.Bounds()
	if !ok { // no outlines: the box around what there is to draw
		var points [][2]float64
		for _, site := range sites {
			points = append(points, [2]float64{site.Location.Lon, site.Location.Lat})
		}
		for _, c := range cases {
			points = append(points, [2]float64{c.Lon, c.Lat})
		}
		if b, ok = duban.Around(points); !ok {
			b = duban.Bounds{MinLat: 0, MinLon: 0, MaxLat: 1, MaxLon: 1}
		}
	}
	proj := newProjection(b, s.Policy.Map != nil)
	d.Width, d.Height = proj.size()
	d.Height = max(d.Height, 1)
	if m := s.Policy.Map; m != nil {
		d.Tiles, d.Attribution = proj.tilesUnder(m), m.Attribution
		// The page may show the city's tiles, and only them from outside.
		w.Header().Set("Content-Security-Policy", strings.Replace(contentSecurityPolicy, "img-src 'self' data:", "img-src 'self' data: "+m.Origin(), 1))
	}
	for _, a := range s.Policy.Areas {
		if len(a.Outline) == 0 {
			continue
		}
		var path strings.Builder
		var cx, cy float64 // the outer ring's mean point, where the name goes
		for r, ring := range a.Outline {
			for i, pt := range ring {
				x, y := proj.xy(pt[0], pt[1])
				move := "L"
				if i == 0 {
					move = "M"
				}
				fmt.Fprintf(&path, "%s%g %g ", move, x, y)
				if r == 0 {
					cx, cy = cx+x, cy+y
				}
			}
			path.WriteString("Z ")
		}
		n := float64(len(a.Outline[0]))
		d.Areas = append(d.Areas, mapArea{Name: p.Area(a.ID), Path: strings.TrimSpace(path.String()), X: round1(cx / n), Y: round1(cy / n)})
	}
	for _, site := range sites {
		if !b.Contains(site.Location) {
			continue
		}
		x, y := proj.xy(site.Location.Lon, site.Location.Lat)
		d.Sites = append(d.Sites, mapPoint{ID: site.ID, Label: site.Name + " · " + p.SiteType(site.Type), X: x, Y: y})
	}
	var markers strings.Builder
	markers.Grow(len(cases) * 320)
	for _, c := range cases {
		if !b.Contains(duban.Location{Lat: c.Lat, Lon: c.Lon}) {
			d.Outside++
			continue
		}
		x, y := proj.xy(c.Lon, c.Lat)
		overdue, level := c.Clock.Overdue(p.now), 0
		if overdue {
			level = min(c.Clock.Level(p.now), 3)
		}
		d.Levels[level]++
		if c.Listed {
			d.Listed++
		}
		label := p.Category(c.Category) + " · " + p.T("status."+string(c.Status))
		if overdue {
			label += " · " + p.T("level."+fmt.Sprint(level))
		}
		mapCase{mapPoint: mapPoint{ID: c.ID, Label: c.Number + " " + label, X: x, Y: y}, Level: level, Overdue: overdue, Listed: c.Listed}.draw(&markers)
	}
	d.Markers = template.HTML(markers.String()) // escaped as drawn
	p.Data = d
	if r.URL.Query().Get("part") == "map" {
		p.Part = "map-part"
	}
	s.render(w, r, http.StatusOK, "map", p)
}
