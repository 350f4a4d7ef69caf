package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/store"
)

// SessionStore is the server-side half of sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, id string, userID int64, ttl time.Duration) error
	SessionUser(ctx context.Context, id string) (store.User, error)
	RevokeSession(ctx context.Context, id string) error
}

const (
	sessionCookie = "portal_session"
	sessionIDKey  = "sid"
	anonIDKey     = "anon"
	// cookieValuesKey holds the request's decoded sessionCookieValues.
	cookieValuesKey = "portal.cookie"
	sessionTTL      = 12 * time.Hour
)

// Sessions keeps only a random session id in a signed, encrypted cookie
// (gorilla/sessions); the id maps to a user in SQLite, so logout and password
// changes revoke it for good.
type Sessions struct {
	cookies *sessions.CookieStore
	store   SessionStore
	csrfKey []byte

	// decoded remembers which session id a cookie value carries: verifying and
	// decrypting it (HMAC, AES, gob) cost more than the rest of a small page.
	// Entries live a minute; the session row stays the authority on expiry
	// and revocation.
	mu      sync.Mutex
	decoded map[string]decodedCookie
}

type decodedCookie struct {
	sessionCookieValues
	at time.Time
}

// sessionCookieValues is what a session cookie carries: the id of a
// signed-in session, or, before sign-in, a random id that only anchors the
// CSRF token of the sign-in form.
type sessionCookieValues struct {
	sid, anon string
}

const (
	decodedTTL = time.Minute
	decodedMax = 10_000
)

// cookieValues returns the ids inside a session cookie's value (zero when it is not ours).
func (s *Sessions) cookieValues(value string) sessionCookieValues {
	now := time.Now()
	s.mu.Lock()
	d, ok := s.decoded[value]
	s.mu.Unlock()
	if ok && now.Sub(d.at) < decodedTTL {
		return d.sessionCookieValues
	}
	values := map[any]any{}
	if err := securecookie.DecodeMulti(sessionCookie, value, &values, s.cookies.Codecs...); err != nil {
		return sessionCookieValues{} // tampered, expired or from old keys: signed out
	}
	var v sessionCookieValues
	v.sid, _ = values[sessionIDKey].(string)
	v.anon, _ = values[anonIDKey].(string)
	if v.sid == "" && v.anon == "" {
		return v
	}
	s.mu.Lock()
	if len(s.decoded) >= decodedMax {
		clear(s.decoded)
	}
	s.decoded[value] = decodedCookie{sessionCookieValues: v, at: now}
	s.mu.Unlock()
	return v
}

// csrfToken is the CSRF token of a session: a MAC of its id, so it lives
// exactly as long as the session (a new one at every sign-in) and nothing a
// page on another site can make the browser do changes it.
func (s *Sessions) csrfToken(v sessionCookieValues) string {
	m := hmac.New(sha256.New, s.csrfKey)
	if v.sid != "" {
		m.Write([]byte("session:" + v.sid))
	} else {
		m.Write([]byte("anonymous:" + v.anon))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// ensureCookie returns the cookie's ids, first giving a visitor without a
// session cookie one that anchors a CSRF token for the sign-in form.
func (s *Sessions) ensureCookie(c echo.Context) (sessionCookieValues, error) {
	if v, ok := c.Get(cookieValuesKey).(sessionCookieValues); ok && (v.sid != "" || v.anon != "") {
		return v, nil
	}
	v := sessionCookieValues{anon: randomID() + randomID()}
	sess, _ := s.cookies.Get(c.Request(), sessionCookie)
	sess.IsNew = true
	sess.Values = map[any]any{anonIDKey: v.anon}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return v, err
	}
	c.Set(cookieValuesKey, v)
	return v, nil
}

var _ handlers.Sessions = (*Sessions)(nil)

// NewSessions builds the session manager; hashKey (32 or 64 bytes) signs and
// blockKey (32 bytes) encrypts the cookie.
func NewSessions(st SessionStore, hashKey, blockKey []byte, secure bool) *Sessions {
	cs := sessions.NewCookieStore(hashKey, blockKey)
	cs.Options = &sessions.Options{Path: "/", MaxAge: int(sessionTTL / time.Second), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	cs.MaxAge(cs.Options.MaxAge)
	m := hmac.New(sha256.New, hashKey)
	m.Write([]byte("portal csrf tokens"))
	return &Sessions{cookies: cs, store: st, csrfKey: m.Sum(nil), decoded: map[string]decodedCookie{}}
}

// Middleware loads the signed-in user, if the cookie names a live session.
func (s *Sessions) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Request().Cookie(sessionCookie)
		if err != nil {
			return next(c)
		}
		v := s.cookieValues(ck.Value)
		c.Set(cookieValuesKey, v)
		c.Set(handlers.SessionIDKey, v.sid)
		if v.sid == "" {
			return next(c)
		}
		u, err := s.store.SessionUser(c.Request().Context(), v.sid)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			handlers.SetUser(c, u)
		}
		return next(c)
	}
}

// Start replaces any current session with a fresh id for the user.
func (s *Sessions) Start(c echo.Context, userID int64) error {
	sess, _ := s.cookies.Get(c.Request(), sessionCookie)
	if old, _ := sess.Values[sessionIDKey].(string); old != "" {
		if err := s.store.RevokeSession(c.Request().Context(), old); err != nil {
			return err
		}
	}
	id := randomID() + randomID()
	if err := s.store.CreateSession(c.Request().Context(), id, userID, sessionTTL); err != nil {
		return err
	}
	sess.IsNew = true
	sess.Values = map[any]any{sessionIDKey: id}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	// The page this request renders (if any) needs the new session's token.
	v := sessionCookieValues{sid: id}
	c.Set(cookieValuesKey, v)
	c.Set(handlers.CSRFKey, s.csrfToken(v))
	return nil
}

// End revokes the session server-side and expires the cookie.
func (s *Sessions) End(c echo.Context) error {
	sess, _ := s.cookies.Get(c.Request(), sessionCookie)
	if id, _ := sess.Values[sessionIDKey].(string); id != "" {
		if err := s.store.RevokeSession(c.Request().Context(), id); err != nil {
			return err
		}
	}
	sess.Options.MaxAge = -1
	sess.Values = map[any]any{}
	return sess.Save(c.Request(), c.Response())
}

// SessionSweeper deletes the sessions that ended (expired or revoked) a while ago.
type SessionSweeper interface {
	DeleteExpiredSessions(ctx context.Context) (int64, error)
}

// RunSessionCleanup deletes ended sessions every interval until ctx ends;
// the caller owns it (runs it with the server's other background work and
// waits for it at shutdown).
func RunSessionCleanup(ctx context.Context, log *slog.Logger, st SessionSweeper, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := st.DeleteExpiredSessions(ctx); err != nil {
				log.Warn("delete ended sessions", "err", err)
			} else if n > 0 {
				log.Debug("deleted ended sessions", "sessions", n)
			}
		}
	}
}
