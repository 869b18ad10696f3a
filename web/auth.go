package web

import (
	"net/http"

	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
)

// loginData is what the sign-in form shows again. A sign-in posted from
// another site (login CSRF) is refused by http.CrossOriginProtection
// before it gets here (api.Server.Handler).
type loginData struct {
	User, Next string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"), "")
	if c, err := r.Cookie(app.SessionCookie); err == nil {
		if sess, err := s.App.Session(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, localPath(next, homeOf(sess.Principal)), http.StatusSeeOther)
			return
		}
	}
	s.showLogin(w, r, http.StatusOK, loginData{Next: next}, nil)
}

// showLogin draws the sign-in form.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData, err error) {
	p := s.newPage(r, "login.title")
	p.Data = d
	if err != nil {
		p.Problem = s.problem(p, err)
	}
	s.render(w, r, status, "login", p)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	d := loginData{User: r.PostFormValue("user"), Next: localPath(r.PostFormValue("next"), "")}
	sess, err := s.App.SignIn(r.Context(), d.User, r.PostFormValue("password"), clientAddr(r, s.TrustedProxies))
	if err != nil {
		s.showLogin(w, r, api.Status(err), d, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: app.SessionCookie, Value: sess.ID, Path: "/", Expires: sess.Expires,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r)})
	s.Logger.Info("signed in", "principal", sess.Principal.ID)
	http.Redirect(w, r, localPath(d.Next, homeOf(sess.Principal)), http.StatusSeeOther)
}

func (s *Server) logoutPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "logout", s.newPage(r, "logout.title"))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.App.SignOut(r.Context(), session(r).ID); err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: app.SessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
