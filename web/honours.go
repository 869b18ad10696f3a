package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
)

// The 红黑榜 and its sanctions (SPEC.md, "Reward and penalty"): each
// bulletin's lists are printed with it (bulletin.html); the sanctions
// have a page of their own, where the office records their follow-up,
// and each unit's lists and sanctions over a year have theirs.

type sanctionsData struct {
	Status    string
	Sanctions []duban.Sanction
	// Done names the sanction whose follow-up was just recorded.
	Done string
	// Failed is the sanction whose follow-up was refused, with its form.
	Failed string
	Form   url.Values
}

// sanctionsPage lists the sanctions, open first by default: the office's
// of every unit, with a form for each open one; a unit's its own.
func (s *Server) sanctionsPage(w http.ResponseWriter, r *http.Request) {
	s.showSanctions(w, r, http.StatusOK, nil, "", nil)
}

// showSanctions draws the sanctions page, with a refusal of sanction
// failed's follow-up and its form, if any.
func (s *Server) showSanctions(w http.ResponseWriter, r *http.Request, status int, refusal error, failed string, form url.Values) {
	q := r.URL.Query()
	d := sanctionsData{Status: q.Get("status"), Done: q.Get("done"), Failed: failed, Form: form}
	if _, ok := q["status"]; !ok {
		d.Status = string(duban.SanctionOpen)
	}
	list, err := s.App.Sanctions(r.Context(), session(r).Principal, duban.SanctionFilter{Status: duban.SanctionStatus(d.Status)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Sanctions = list
	p := s.newPage(r, "sanctions.title")
	if refusal != nil {
		p.Problem = s.problem(p, refusal)
	}
	p.Data = d
	s.render(w, r, status, "sanctions", p)
}

// sanctionDone records the office's follow-up of a sanction from its form:
// the note and, if given, when it was done (the policy's local time).
func (s *Server) sanctionDone(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	at, err := localTime("at", strings.TrimSpace(r.PostForm.Get("at")), s.zone)
	if err == nil {
		_, err = s.App.SanctionDone(r.Context(), session(r).Principal, id, r.PostForm.Get("note"), at)
	}
	if err != nil {
		s.showSanctions(w, r, api.Status(err), err, id, r.PostForm)
		return
	}
	http.Redirect(w, r, "/sanctions?done="+url.QueryEscape(id)+"#"+url.QueryEscape(id), http.StatusSeeOther)
}

// honoursData is each unit's lists and sanctions over a year: a row per
// unit, a column per published bulletin of the year.
type honoursData struct {
	Year      int
	Years     []int
	Bulletins []duban.Bulletin
	Units     []honoursRow
}

type honoursRow struct {
	Unit string
	// Cells are the unit's place in each bulletin, in the columns' order.
	Cells     []honoursCell
	Sanctions []duban.Sanction
}

// honoursCell is a unit's place in a bulletin: red, black or neither,
// with its rank and score when listed.
type honoursCell struct {
	List  string // "red", "black" or ""
	Rank  int
	Score float64
}

// honoursHistory shows each unit's red and black listings and sanctions
// over a year (?year=2026; the current one by default): the office sees
// every unit, a unit itself.
func (s *Server) honoursHistory(w http.ResponseWriter, r *http.Request) {
	by := session(r).Principal
	bs, err := s.App.Bulletins(r.Context(), by)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.newPage(r, "honours.title")
	d := honoursData{Year: p.now.In(s.zone).Year()}
	if y, err := strconv.Atoi(r.URL.Query().Get("year")); err == nil {
		d.Year = y
	}
	for _, b := range slices.Backward(bs) { // the oldest first
		year, _ := strconv.Atoi(strings.SplitN(b.Name, "-", 2)[0])
		if !slices.Contains(d.Years, year) {
			d.Years = append(d.Years, year)
		}
		if year == d.Year {
			d.Bulletins = append(d.Bulletins, b)
		}
	}
	for _, u := range s.Policy.Units {
		if by.MayReadSanctions(u.ID) != nil { // a unit's clerk: their own row only
			continue
		}
		row := honoursRow{Unit: u.ID}
		for _, b := range d.Bulletins {
			row.Cells = append(row.Cells, cellOf(b, u.ID))
			for _, sn := range b.Sanctions {
				if sn.Unit == u.ID {
					row.Sanctions = append(row.Sanctions, sn)
				}
			}
		}
		d.Units = append(d.Units, row)
	}
	p.Data = d
	s.render(w, r, http.StatusOK, "honours", p)
}

// cellOf is unit's place in b.
func cellOf(b duban.Bulletin, unit string) honoursCell {
	for _, list := range []struct {
		name  string
		units []duban.ListedUnit
	}{{"red", b.RedList.Units}, {"black", b.BlackList.Units}} {
		if i := slices.IndexFunc(list.units, func(x duban.ListedUnit) bool { return x.Unit == unit }); i >= 0 {
			return honoursCell{List: list.name, Rank: list.units[i].Rank, Score: list.units[i].Score}
		}
	}
	return honoursCell{}
}

// openSanctions are the sanctions the board lists: open, the latest
// period first, of unit ("" for every unit; none for one the policy does
// not know, as the board's cases).
func (s *Server) openSanctions(r *http.Request, unit string) ([]duban.Sanction, error) {
	if _, ok := s.Policy.Unit(unit); unit != "" && !ok {
		return nil, nil
	}
	return s.App.Sanctions(r.Context(), session(r).Principal, duban.SanctionFilter{Status: duban.SanctionOpen, Unit: unit})
}

// Reason says why a sanction was given (messages.Catalog.SanctionReason).
func (p *page) Reason(sn duban.Sanction) string { return p.cat.SanctionReason(sn) }
