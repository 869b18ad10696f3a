package web

import (
	"math"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/media"
)

// evidenceColumn is one side of the case page's comparison: the report's
// photos, the last resolution's, or the verification's after it.
type evidenceColumn struct {
	Title string // a message key
	Items []photoView
}

// photoView is an evidence item as the page shows it: a stored photo's
// thumbnail, with when and where it was taken (as far as its reader may
// know), or a link.
type photoView struct {
	duban.Evidence
	// Case is the case the photo was given for: its viewer leads back there.
	Case        string
	ContentType string
	Thumbnail   bool
	TakenAt     *time.Time
	Location    *placeView
}

type placeView struct {
	Lat, Lon float64
	// Distance is how far from the case's location the photo was taken,
	// in metres (0: on the spot or unknown).
	Distance int
}

// photos is what the "photos" template draws.
type photos struct {
	Page  *page
	Items []photoView
}

// Photos gives the "photos" template its page.
func (p *page) Photos(items []photoView) photos { return photos{Page: p, Items: items} }

// evidence lays the case's evidence side by side: the report's, the last
// resolution's, and what verified it since; photos are each event's, by
// its version.
func evidence(events []duban.Event, photos map[int64][]photoView) []evidenceColumn {
	var reported, resolved, verified []photoView
	for _, e := range events {
		switch e.Type {
		case duban.EventCaseReported:
			reported = photos[e.Version]
		case duban.EventCaseResolved:
			resolved, verified = photos[e.Version], nil
		case duban.EventVerificationPassed, duban.EventVerificationFailed:
			verified = photos[e.Version]
		}
	}
	if len(reported)+len(resolved)+len(verified) == 0 {
		return nil
	}
	columns := []evidenceColumn{{"case.evidence_reported", reported}, {"case.evidence_resolved", resolved}}
	if len(verified) > 0 {
		columns = append(columns, evidenceColumn{"case.evidence_verified", verified})
	}
	return columns
}

func (s *Server) photoViews(r *http.Request, by duban.Principal, c duban.Case, evidence []duban.Evidence) []photoView {
	var out []photoView
	for _, e := range evidence {
		v := photoView{Evidence: e, Case: c.ID}
		if e.Attachment != "" {
			if a, err := s.App.AttachmentInfo(r.Context(), by, e.Attachment); err == nil {
				v.ContentType, v.Thumbnail, v.TakenAt = a.ContentType, a.Thumbnail, a.TakenAt
				if a.Location != nil {
					v.Location = &placeView{Lat: a.Location.Lat, Lon: a.Location.Lon, Distance: metres(c.Location, *a.Location)}
				}
			}
		}
		out = append(out, v)
	}
	return out
}

type photoData struct {
	Photo photoView
}

// photo shows a photo whole, fitted to the screen, with when and where it
// was taken and the way back to its case: a browser's own image viewer is
// not relied on to fit it.
func (s *Server) photo(w http.ResponseWriter, r *http.Request) {
	by := session(r).Principal
	caseID := r.URL.Query().Get("case")
	row, err := s.App.CaseRow(r.Context(), by, caseID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	ev := duban.Evidence{Attachment: id, Kind: "photo"}
	if _, err := s.App.AttachmentInfo(r.Context(), by, id); err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.newPage(r, "photo.title")
	p.Data = photoData{Photo: s.photoViews(r, by, row.Case, []duban.Evidence{ev})[0]}
	s.render(w, r, http.StatusOK, "photo", p)
}

// metres is the distance between a case's location and a photo's, on the
// sphere.
func metres(l duban.Location, g media.GPS) int {
	const earth = 6_371_000.0
	rad := func(d float64) float64 { return d * math.Pi / 180 }
	dLat, dLon := rad(g.Lat-l.Lat), rad(g.Lon-l.Lon)
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(rad(l.Lat))*math.Cos(rad(g.Lat))*math.Sin(dLon/2)*math.Sin(dLon/2)
	return int(math.Round(2 * earth * math.Asin(math.Sqrt(h))))
}
