package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"math"
	"strings"
	"time"

	"github.com/duban/duban"
)

// A person on the office pages signs in with a user name and password and
// is then known by a session: a random id the browser keeps in a cookie, of
// which the store keeps only the SHA-256, so that a copy of the database
// signs no one in. Sessions live in the store, so that signing out ends a
// session everywhere and any API process recognises it.

// SessionCookie is the name of the cookie that holds a session's id.
const SessionCookie = "duban_session"

// Session is a signed-in person's session.
type Session struct {
	// ID is the secret the browser holds; it is known only on sign-in.
	ID        string
	Principal duban.Principal
	Expires   time.Time
}

// StoredSession is a session as the store keeps it.
type StoredSession struct {
	Hash        []byte // SHA-256 of the session's id
	PrincipalID string
	Expires     time.Time
}

// SessionStore keeps sessions.
type SessionStore interface {
	// CreateSession stores s, and forgets sessions that have expired.
	CreateSession(ctx context.Context, s StoredSession) error
	// Session returns the session whose id hashes to hash; ENOTFOUND when
	// there is none (expired ones included).
	Session(ctx context.Context, hash []byte, now time.Time) (StoredSession, error)
	// DeleteSession forgets a session; one already gone is no error.
	DeleteSession(ctx context.Context, hash []byte) error
	// SignInFailures returns the wrong passwords counted under each of
	// keys (those that have any).
	SignInFailures(ctx context.Context, keys []string) (map[string]SignInFailures, error)
	// FailSignIn counts a wrong password under each of keys at now: a
	// count whose last failure was before since starts again at one.
	FailSignIn(ctx context.Context, keys []string, now, since time.Time) error
	// ForgetSignInFailures forgets the count under key.
	ForgetSignInFailures(ctx context.Context, key string) error
}

// SignInFailures are the wrong passwords counted under a key: how many,
// the last when.
type SignInFailures struct {
	N    int
	Last time.Time
}

// failuresFor is how long a count of wrong passwords lasts: after an
// hour without one, it starts again.
const failuresFor = time.Hour

// SessionLifetime is how long a session lasts from sign-in when Service
// does not say: a working day and its evening.
const SessionLifetime = 12 * time.Hour

// SignIn checks a user name and password and opens a session. from is
// where the attempt comes from (the client's address): repeated wrong
// passwords, for a user from that address or from the address for any
// users, make the next attempt wait, longer each time (ETOOMANY until
// then), counted in the store where every API process sees them.
func (s *Service) SignIn(ctx context.Context, user, password, from string) (Session, error) {
	now := s.now()
	// A user's wrong passwords count per address they come from: someone
	// guessing a colleague's password slows only their own tries, never
	// locks its owner out.
	keys := []string{"user:" + strings.ToLower(user) + "|from:" + from, "from:" + from}
	fails, err := s.Sessions.SignInFailures(ctx, keys)
	if err != nil {
		return Session{}, err
	}
	if wait := mustWait(fails, now); wait > 0 {
		return Session{}, duban.Errorf(duban.ETOOMANY, "too many wrong passwords: try again in %d seconds", int(math.Ceil(wait.Seconds())))
	}
	p, ok := s.Policy.SignIn(user, password)
	if !ok {
		if err := s.Sessions.FailSignIn(ctx, keys, now, now.Add(-failuresFor)); err != nil {
			return Session{}, err
		}
		return Session{}, duban.Errorf(duban.EUNAUTHORIZED, "wrong user name or password")
	}
	if _, ok := fails[keys[0]]; ok {
		if err := s.Sessions.ForgetSignInFailures(ctx, keys[0]); err != nil {
			return Session{}, err
		}
	}
	lifetime := s.SessionLifetime
	if lifetime <= 0 {
		lifetime = SessionLifetime
	}
	sess := Session{ID: rand.Text(), Principal: p, Expires: now.Add(lifetime)}
	if err := s.Sessions.CreateSession(ctx, StoredSession{Hash: sessionHash(sess.ID), PrincipalID: p.ID, Expires: sess.Expires}); err != nil {
		return Session{}, err
	}
	return sess, nil
}

// Session returns the session id stands for; EUNAUTHORIZED when there is
// none, it has expired, or its principal is no longer in the policy.
func (s *Service) Session(ctx context.Context, id string) (Session, error) {
	if id == "" {
		return Session{}, duban.Errorf(duban.EUNAUTHORIZED, "not signed in")
	}
	stored, err := s.Sessions.Session(ctx, sessionHash(id), s.now())
	if duban.ErrorCode(err) == duban.ENOTFOUND {
		return Session{}, duban.Errorf(duban.EUNAUTHORIZED, "the session has ended: sign in again")
	} else if err != nil {
		return Session{}, err
	}
	p, ok := s.Policy.Principal(stored.PrincipalID)
	if !ok {
		return Session{}, duban.Errorf(duban.EUNAUTHORIZED, "the session's principal is no longer in the policy")
	}
	return Session{ID: id, Principal: p, Expires: stored.Expires}, nil
}

// SignOut ends the session id stands for.
func (s *Service) SignOut(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	return s.Sessions.DeleteSession(ctx, sessionHash(id))
}

func sessionHash(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}

// mustWait is how long the next sign-in must wait, by the wrong passwords
// counted: after a few for one user from one address (or many from one
// address, for any users) each attempt waits, twice as long after each
// further failure, up to a quarter of an hour, from the last failure. The
// counts are kept in the store, where every API process sees them.
func mustWait(fails map[string]SignInFailures, now time.Time) time.Duration {
	var wait time.Duration
	for key, f := range fails {
		if now.Sub(f.Last) > failuresFor {
			continue
		}
		if over := f.N - freeTries(key); over > 0 {
			wait = max(wait, f.Last.Add(min(time.Second<<min(over-1, 20), 15*time.Minute)).Sub(now))
		}
	}
	return wait
}

// freeTries are the wrong passwords allowed before attempts must wait:
// for a user from an address, and from an address for any users (an
// office's many people behind one address mistype too).
func freeTries(key string) int {
	if strings.HasPrefix(key, "from:") {
		return 20
	}
	return 3
}
