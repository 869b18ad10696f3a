package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
)

// The residents' pages (随手拍): /report takes a report from a phone, with
// no sign-in; /r/{token} follows it and takes the reporter's rating. Both
// go through the same application layer as the JSON API's public routes
// (api.ReadReport), and show nothing of who reported.

// reportForm is what a report's form held, shown again after a refusal
// (its photos are chosen again).
type reportForm struct {
	Category, Description, Address, Lat, Lon, Phone string
}

type reportData struct {
	Categories []option
	MinPhotos  int
	Form       reportForm
	Leaders    []duban.Leader
}

func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) {
	s.renderReport(w, r, http.StatusOK, nil)
}

func (s *Server) renderReport(w http.ResponseWriter, r *http.Request, status int, refusal error) {
	p := s.newPage(r, "public.title")
	d := reportData{MinPhotos: s.Policy.Public.MinPhotos}
	for _, code := range s.Policy.PublicCategories() {
		d.Categories = append(d.Categories, option{code, p.Category(code)})
	}
	if len(d.Categories) == 0 {
		s.fail(w, r, duban.Errorf(duban.ENOTFOUND, "this duban takes no residents' reports"))
		return
	}
	if refusal != nil {
		p.Problem = s.problem(p, refusal)
		v := r.PostFormValue
		d.Form = reportForm{v("category"), v("description"), v("address"), v("lat"), v("lon"), v("phone")}
	}
	if leaders, err := s.App.Leaderboard(r.Context(), s.now(), 10); err == nil {
		d.Leaders = leaders
	}
	p.Data = d
	s.render(w, r, status, "report", p)
}

// postReport files the report the page's form sends without its script:
// then on to its follow link.
func (s *Server) postReport(w http.ResponseWriter, r *http.Request) {
	a, err := api.ReadReport(s.App, w, r, duban.ChannelWeb)
	if err != nil {
		if r.MultipartForm == nil {
			_ = r.ParseForm()
		}
		s.renderReport(w, r, api.Status(err), err)
		return
	}
	http.Redirect(w, r, "/r/"+a.Token, http.StatusSeeOther)
}

type followData struct {
	Token  string
	Report any
}

func (s *Server) followPage(w http.ResponseWriter, r *http.Request) {
	s.renderFollow(w, r, http.StatusOK, nil)
}

func (s *Server) renderFollow(w http.ResponseWriter, r *http.Request, status int, refusal error) {
	token := chi.URLParam(r, "token")
	f, err := s.App.Follow(r.Context(), token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.newPage(r, "public.follow_title")
	if refusal != nil {
		p.Problem = s.problem(p, refusal)
	}
	p.Data = followData{Token: token, Report: f}
	// The link is the reporter's: no page it leads to names it to another.
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.render(w, r, status, "follow", p)
}

// rate takes the follow page's rating.
func (s *Server) rate(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, duban.Errorf(duban.EINVALID, "the form could not be read: %v", err))
		return
	}
	if _, err := s.App.Rate(r.Context(), token, duban.Rating(r.PostFormValue("rating")), r.PostFormValue("comment")); err != nil {
		s.renderFollow(w, r, api.Status(err), err)
		return
	}
	http.Redirect(w, r, "/r/"+token, http.StatusSeeOther)
}
