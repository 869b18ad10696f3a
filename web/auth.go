package web

import (
	"crypto/rand"
	"net/http"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
)

// loginCSRFCookie holds the token of the sign-in form, which is posted
// before there is a session to keep one in (a double-submitted cookie).
const loginCSRFCookie = "duban_login"

type loginData struct {
	User, Next, CSRF string
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

// showLogin draws the sign-in form with a fresh token.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData, err error) {
	d.CSRF = rand.Text()
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: d.CSRF, Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: overTLS(r)})
	p := s.newPage(r, "login.title")
	p.Data = d
	if err != nil {
		p.Problem = s.problem(p, err)
	}
	s.render(w, r, status, "login", p)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	d := loginData{User: r.PostFormValue("user"), Next: localPath(r.PostFormValue("next"), "")}
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || c.Value == "" || c.Value != r.PostFormValue("csrf") {
		s.showLogin(w, r, http.StatusForbidden, d, duban.Errorf(duban.EFORBIDDEN, "the form's security token is missing or out of date: sign in again"))
		return
	}
	sess, err := s.App.SignIn(r.Context(), d.User, r.PostFormValue("password"), clientAddr(r, s.TrustedProxies))
	if err != nil {
		s.showLogin(w, r, api.Status(err), d, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Path: "/login", MaxAge: -1})
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
