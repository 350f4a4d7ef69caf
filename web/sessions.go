package web

import (
	"context"
	"errors"
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
	sessionTTL    = 12 * time.Hour
)

// Sessions keeps only a random session id in a signed, encrypted cookie
// (gorilla/sessions); the id maps to a user in SQLite, so logout and password
// changes revoke it for good.
type Sessions struct {
	cookies *sessions.CookieStore
	store   SessionStore

	// decoded remembers which session id a cookie value carries: verifying and
	// decrypting it (HMAC, AES, gob) cost more than the rest of a small page.
	// Entries live a minute; the session row stays the authority on expiry
	// and revocation.
	mu      sync.Mutex
	decoded map[string]decodedCookie
}

type decodedCookie struct {
	id string
	at time.Time
}

const (
	decodedTTL = time.Minute
	decodedMax = 10_000
)

// sessionID returns the id inside a session cookie's value ("" when it is not ours).
func (s *Sessions) sessionID(value string) string {
	now := time.Now()
	s.mu.Lock()
	d, ok := s.decoded[value]
	s.mu.Unlock()
	if ok && now.Sub(d.at) < decodedTTL {
		return d.id
	}
	values := map[any]any{}
	if err := securecookie.DecodeMulti(sessionCookie, value, &values, s.cookies.Codecs...); err != nil {
		return "" // tampered, expired or from old keys: signed out
	}
	id, _ := values[sessionIDKey].(string)
	if id == "" {
		return ""
	}
	s.mu.Lock()
	if len(s.decoded) >= decodedMax {
		clear(s.decoded)
	}
	s.decoded[value] = decodedCookie{id: id, at: now}
	s.mu.Unlock()
	return id
}

var _ handlers.Sessions = (*Sessions)(nil)

// NewSessions builds the session manager; hashKey (32 or 64 bytes) signs and
// blockKey (32 bytes) encrypts the cookie.
func NewSessions(st SessionStore, hashKey, blockKey []byte, secure bool) *Sessions {
	cs := sessions.NewCookieStore(hashKey, blockKey)
	cs.Options = &sessions.Options{Path: "/", MaxAge: int(sessionTTL / time.Second), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	cs.MaxAge(cs.Options.MaxAge)
	return &Sessions{cookies: cs, store: st, decoded: map[string]decodedCookie{}}
}

// Middleware loads the signed-in user, if the cookie names a live session.
func (s *Sessions) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Request().Cookie(sessionCookie)
		if err != nil {
			return next(c)
		}
		id := s.sessionID(ck.Value)
		if id == "" {
			return next(c)
		}
		u, err := s.store.SessionUser(c.Request().Context(), id)
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
	return sess.Save(c.Request(), c.Response())
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
