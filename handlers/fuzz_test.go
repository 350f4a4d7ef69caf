package handlers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/static"
	"github.com/bankconnections/portal/store"
)

// Fuzz targets for every decoder of user input. `go test` runs their seed
// corpora; `go test -fuzz=FuzzX -fuzztime=20s ./handlers` explores further.

// fakeStore answers the login form: one user, alice.
type fakeStore struct {
	Store // methods the login form does not use panic if called
	hash  string
}

func (f *fakeStore) UserByEmail(_ context.Context, email string) (store.User, error) {
	if strings.EqualFold(email, "alice@example.com") {
		return store.User{ID: 1, Email: "alice@example.com", PasswordHash: f.hash, Role: store.RoleCustomer, CustomerGUID: strings.Repeat("a", 32)}, nil
	}
	return store.User{}, store.ErrNotFound
}

// The login form counts failures; each fuzz input starts from none.
func (f *fakeStore) LoginFailures(_ context.Context, _ time.Time, keys ...store.FailureKey) ([]int, error) {
	return make([]int, len(keys)), nil
}
func (f *fakeStore) AddLoginFailures(context.Context, time.Time, time.Time, ...store.FailureKey) error {
	return nil
}
func (f *fakeStore) ClearLoginFailures(context.Context, store.FailureKey) error { return nil }

type fakeSessions struct{ started int }

func (f *fakeSessions) Start(echo.Context, int64) error { f.started++; return nil }
func (f *fakeSessions) End(echo.Context) error          { return nil }

func FuzzLoginForm(f *testing.F) {
	for _, seed := range [][2]string{
		{"alice@example.com", "demo-alice"},
		{"alice@example.com", "wrong"},
		{"ALICE@EXAMPLE.COM", "demo-alice"},
		{"", ""},
		{"not-an-email", "x"},
		{"bob@example.com", "demo-bob"},
		{"<script>alert(1)</script>@example.com", "<img src=x onerror=alert(1)>"},
		{"alice@example.com\r\nX-Injected: 1", "demo-alice"},
		{"\"alice\"@example.com", "demo-alice\x00"},
		{"alice@example.com", strings.Repeat("p", 129)},
		{strings.Repeat("a", 250) + "@example.com", "secret"},
		{"Alice <alice@example.com>", "demo-alice"},
		{"alice@example.com' OR '1'='1", "' OR '1'='1"},
		{"\xff\xfe@example.com", "\xff"},
	} {
		f.Add(seed[0], seed[1])
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("demo-alice"), bcrypt.MinCost)
	assets, err := static.Load()
	if err != nil {
		f.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	f.Fuzz(func(t *testing.T, email, password string) {
		logs.Reset()
		sess := &fakeSessions{}
		h := New(log, Deps{Store: &fakeStore{hash: string(hash)}, Sessions: sess, Assets: assets}, Options{})
		form := url.Values{"email": {email}, "password": {password}}
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		e := echo.New()
		c := e.NewContext(req, rec)
		if err := h.Login(c); err != nil {
			t.Fatalf("login with %q: error %v, want a page", email, err)
		}
		ok := strings.TrimSpace(email) == "alice@example.com" && password == "demo-alice"
		switch rec.Code {
		case http.StatusSeeOther:
			if !ok && !strings.EqualFold(strings.TrimSpace(email), "alice@example.com") {
				t.Fatalf("signed in with %q / %q", email, password)
			}
			if password != "demo-alice" {
				t.Fatalf("signed in with the wrong password %q", password)
			}
			if sess.started != 1 {
				t.Fatalf("303 without a session")
			}
		case http.StatusUnauthorized, http.StatusUnprocessableEntity, http.StatusTooManyRequests:
			if sess.started != 0 {
				t.Fatalf("a refused login started a session")
			}
			if !strings.Contains(rec.Body.String(), `data-testid="login-error"`) {
				t.Fatalf("refusal %d without a message", rec.Code)
			}
		default:
			t.Fatalf("login with %q: status %d", email, rec.Code)
		}
		if len(password) >= 12 && !strings.Contains(email, password) {
			if strings.Contains(rec.Body.String(), password) {
				t.Fatal("the page echoes the password")
			}
			if strings.Contains(logs.String(), password) {
				t.Fatal("the log holds the password")
			}
		}
		if strings.Contains(rec.Body.String(), "<script>alert") || strings.Contains(rec.Body.String(), "<img src=x") {
			t.Fatal("the email was rendered as markup")
		}
	})
}

func checkText(t *testing.T, what, got string, max int) {
	t.Helper()
	if len(got) > max {
		t.Fatalf("%s: %d bytes, want at most %d", what, len(got), max)
	}
	if !utf8.ValidString(got) {
		t.Fatalf("%s: not valid UTF-8: %q", what, got)
	}
}

func FuzzDecodeCallback(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"event","name":"OPEN","metadata":{"view_name":"CONSENT","link_session_id":"abc","request_id":"r1"}}`,
		`{"kind":"exit","error":{"error_type":"ITEM_ERROR","error_code":"INVALID_CREDENTIALS"},"metadata":{"status":"requires_credentials","institution":{"institution_id":"ins_109508","name":"First Platypus Bank"}}}`,
		`{"kind":"exit","error":null,"metadata":{}}`,
		`{"kind":"success","name":"SUCCESS","metadata":{"institution_id":"ins_1"}}`,
		`{"kind":"event","name":"x` + strings.Repeat("é", 40) + `"}`,
		`{"kind":"other"}`,
		`{"kind":"event","metadata":[]}`,
		`{"kind":"event","name":{"a":1}}`,
		`[]`, `null`, ``, `{`, `{"kind":"event"}{"kind":"exit"}`,
		`{"kind":"event","name":"<script>alert(1)</script>"}`,
		`{"kind":"event","name":"\u0000\ud800"}`,
		`{"kind":"exit","error":{"error_code":"` + strings.Repeat("A", 200) + `"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, ok := decodeCallback(body)
		if !ok {
			if cb != (connections.LinkCallback{}) {
				t.Fatalf("a refused callback returned data: %+v", cb)
			}
			return
		}
		switch cb.Kind {
		case "event", "exit", "success":
		default:
			t.Fatalf("kind %q accepted", cb.Kind)
		}
		for what, v := range map[string]string{"event": cb.EventName, "view": cb.ViewName, "error_code": cb.ErrorCode,
			"error_type": cb.ErrorType, "exit_status": cb.ExitStatus, "institution": cb.InstitutionID} {
			checkText(t, what, v, 64)
		}
		checkText(t, "link_session_id", cb.PlaidLinkSessionID, 128)
		checkText(t, "request_id", cb.RequestID, 128)
	})
}

func FuzzDecodeSuccess(f *testing.F) {
	for _, seed := range []string{
		`{"public_token":"public-sandbox-1","metadata":{"institution":{"name":"First Platypus Bank","institution_id":"ins_109508"},"accounts":[{"id":"acc1","name":"Plaid Checking","mask":"0000","type":"depository","subtype":"checking"}],"link_session_id":"ls"}}`,
		`{"public_token":"public-sandbox-1","metadata":{"institution":null,"accounts":[]}}`,
		`{"public_token":"","metadata":{"accounts":[{"id":"a"},{"id":"b"}]}}`,
		`{"metadata":{"accounts":null}}`,
		`{"public_token":1}`, `[]`, `null`, ``, `{"metadata":{"accounts":"x"}}`,
		`{"public_token":"public-x","metadata":{"institution":{"name":"<img src=x onerror=alert(1)>","institution_id":"` + strings.Repeat("i", 100) + `"}}}`,
		`{"public_token":"public-x","metadata":{"institution":{"name":"` + strings.Repeat("ü", 100) + `"}}}`,
		`{"metadata":{"accounts":[` + strings.TrimSuffix(strings.Repeat(`{"id":"a"},`, 101), ",") + `]}}`,
		`{"public_token":"public-x","metadata":{"accounts":[{"id":"a","name":"  spaced  ","mask":"\u0000"}]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, ok := decodeSuccess(body)
		if !ok {
			if s.PublicToken != "" || len(s.Accounts) != 0 || s.InstitutionID != "" || s.InstitutionName != "" {
				t.Fatalf("a refused result returned data: %+v", s)
			}
			return
		}
		if len(s.Accounts) > 100 {
			t.Fatalf("%d accounts accepted", len(s.Accounts))
		}
		checkText(t, "institution_id", s.InstitutionID, 64)
		checkText(t, "institution name", s.InstitutionName, 128)
		for _, a := range s.Accounts {
			if a.Name != strings.TrimSpace(a.Name) {
				t.Fatalf("account name %q not trimmed", a.Name)
			}
		}
	})
}

// adminFixture is a real store behind the real admin side, for the filters.
func adminFixture(f *testing.F) (*Handler, store.User) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(f.TempDir(), "portal.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	admin, err := db.CreateUser(ctx, store.User{Email: "admin@example.com", PasswordHash: "x", Role: store.RoleAdmin})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, store.User{Email: "alice@example.com", PasswordHash: "x", Role: store.RoleCustomer, CustomerGUID: strings.Repeat("a", 32)}); err != nil {
		f.Fatal(err)
	}
	assets, err := static.Load()
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := connections.New(log, db, nil, connections.Config{})
	h := New(log, Deps{Store: db, Sessions: &fakeSessions{}, Assets: assets, Admin: connections.NewAdmin(svc, nil, connections.AdminConfig{})}, Options{})
	return h, admin
}

func FuzzAdminFilters(f *testing.F) {
	for _, seed := range [][5]string{
		{"", "", "", "", ""},
		{"refresh_required", "ins_109508", "alice@example.com", "", "1"},
		{"completed", "", strings.Repeat("a", 32), "", ""},
		{"nope", "", "", "", ""},
		{"", "ins_<script>", "", "", ""},
		{"", "", "<script>alert(1)</script>@x", "", ""},
		{"", "", "nobody@example.com", "", "1"},
		{"", "", "", "YzF8MjAyNi0wMS0xNVQxMjowMDowMC4wMDBafGFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh", ""},
		{"", "", "", "not-a-cursor", ""},
		{"", "", "", strings.Repeat("A", 200), ""},
		{"' OR 1=1 --", "ins_1' OR '1'='1", "' OR 1=1 --", "%00", "yes"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	}
	h, admin := adminFixture(f)
	f.Fuzz(func(t *testing.T, state, institution, customer, after, bank string) {
		q := url.Values{"state": {state}, "institution": {institution}, "customer": {customer}, "after": {after}, "bank": {bank}}
		req := httptest.NewRequest(http.MethodGet, "/admin/connections?"+q.Encode(), nil)
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(req, rec)
		SetUser(c, admin)
		err := h.AdminConnections(c)
		var ce *connections.Error
		switch {
		case err == nil:
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			if strings.Contains(rec.Body.String(), "<script>alert") {
				t.Fatal("filter text rendered as markup")
			}
		case errors.As(err, &ce):
			if ce.Kind != connections.KindInvalid || ce.Message == "" {
				t.Fatalf("refusal %v %q, want invalid with a message", ce.Kind, ce.Message)
			}
		default:
			t.Fatalf("filters %v: unexpected error %v", q, err)
		}
	})
}

func FuzzAdminCursor(f *testing.F) {
	for _, seed := range []string{
		"", "YzF8MjAyNi0wMS0xNVQxMjowMDowMC4wMDBafGFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh",
		"YzJ8eHx5", "====", strings.Repeat("A", 129), "c1|2026-01-15T12:00:00.000Z|" + strings.Repeat("a", 32),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := store.ParseCursor(s)
		if err != nil {
			if !errors.Is(err, store.ErrBadCursor) {
				t.Fatalf("error %v, want ErrBadCursor", err)
			}
			return
		}
		if !validGUID(c.GUID) {
			t.Fatalf("cursor with guid %q accepted", c.GUID)
		}
		again, err := store.ParseCursor(c.String())
		if err != nil || !again.ChangedAt.Equal(c.ChangedAt) || again.GUID != c.GUID {
			t.Fatalf("cursor %q does not survive a round trip: %+v vs %+v (%v)", s, c, again, err)
		}
	})
}
