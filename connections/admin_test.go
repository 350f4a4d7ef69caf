package connections_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/sim/world/worldtest"
	"github.com/bankconnections/portal/store"
)

// fakePlaid is the simulator's Plaid as func fields: public token "public-X"
// gives Item "item-X" sharing account "acct-X" at the institution in inst.
type fakePlaid struct {
	inst    string
	mu      sync.Mutex           // guards names once the simulator runs (the model test adds accounts as it goes)
	names   map[string][2]string // id -> name, mask; default "Plaid Checking" and a mask from the id
	removed atomic.Int32

	// refresh is read by the simulator's request goroutines, which may still
	// run after the test moved on: it is set through setRefresh only (under mu).
	refresh func(ctx context.Context, accessToken string) error
}

func (f *fakePlaid) setRefresh(fn func(ctx context.Context, accessToken string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refresh = fn
}

var _ simplatform.Plaid = (*fakePlaid)(nil)

func (f *fakePlaid) CreateLinkToken(context.Context, simplatform.LinkTokenRequest) (simplatform.LinkToken, error) {
	return simplatform.LinkToken{Token: "link-sandbox-test", Expiration: time.Now().Add(time.Hour)}, nil
}
func (f *fakePlaid) ExchangePublicToken(_ context.Context, pt string) (simplatform.ItemAccess, error) {
	id := strings.TrimPrefix(pt, "public-")
	return simplatform.ItemAccess{AccessToken: "access-" + id, ItemID: "item-" + id}, nil
}
func (f *fakePlaid) Accounts(_ context.Context, at string) (simplatform.Item, []simplatform.Account, error) {
	id := strings.TrimPrefix(at, "access-")
	name, mask := "Plaid Checking", fmt.Sprintf("%04d", crc32.ChecksumIEEE([]byte(id))%10000)
	f.mu.Lock()
	if nm, ok := f.names[id]; ok {
		name, mask = nm[0], nm[1]
	}
	f.mu.Unlock()
	return simplatform.Item{ItemID: "item-" + id, InstitutionID: f.inst},
		[]simplatform.Account{{AccountID: "acct-" + id, Name: name, Mask: mask, Type: "depository", Subtype: "checking"}}, nil
}
func (f *fakePlaid) RefreshTransactions(ctx context.Context, at string) error {
	f.mu.Lock()
	refresh := f.refresh
	f.mu.Unlock()
	if refresh != nil {
		return refresh(ctx, at)
	}
	return nil
}
func (f *fakePlaid) Balances(_ context.Context, at string) (map[string]simplatform.Balance, error) {
	id := strings.TrimPrefix(at, "access-")
	a, c := int64(12_345), int64(13_000)
	return map[string]simplatform.Balance{"acct-" + id: {Available: &a, Current: &c}}, nil
}
func (f *fakePlaid) ResetLogin(context.Context, string) error { return nil }
func (f *fakePlaid) RemoveItem(context.Context, string) error { f.removed.Add(1); return nil }
func (f *fakePlaid) VerifyWebhook(context.Context, string, []byte) (simplatform.Webhook, error) {
	return simplatform.Webhook{}, nil
}

type world struct {
	t       *testing.T
	db      *store.DB
	svc     *connections.Service
	admin   *connections.Admin
	bank    *platform.Client
	sandbox simplatform.Sandbox
	plaid   *fakePlaid
	calls   *inFlight // the platform calls of the portal (bank and slow client) still running
	boss    store.User
	alice   store.User
	// bankGUID is the simulator's bank, for services built in a test.
	bankGUID string
}

func newWorld(t *testing.T, refreshTimeout time.Duration) *world {
	t.Helper()
	return newWorldOn(t, engineSQLite, refreshTimeout)
}

func newWorldOn(t *testing.T, engine string, refreshTimeout time.Duration) *world {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	fp := &fakePlaid{inst: "ins_109508"}
	sim := worldtest.New(t, worldtest.Options{Plaid: fp, StoringDelay: 20 * time.Millisecond})
	url := sim.PlatformURL
	calls := &inFlight{base: http.DefaultTransport}
	pcfg := platform.Config{BaseURL: url, TokenURL: url + "/oauth/token", ClientID: sim.Platform.ClientID(), ClientSecret: sim.Platform.ClientSecret(),
		Logger: log, RetryBase: 5 * time.Millisecond, HTTPClient: &http.Client{Transport: calls, Timeout: time.Minute}}
	bank := platform.New(pcfg)
	db := openStore(t, engine)
	svc := connections.New(log, db, bank, connections.Config{BankGUID: sim.Platform.BankGUID(), PortalURL: "https://portal.bank.example/"})
	slow := pcfg
	slow.MaxRetries = -1
	adm := connections.NewAdmin(svc, platform.New(slow), connections.AdminConfig{RefreshTimeout: refreshTimeout})
	t.Cleanup(adm.Wait)
	w := &world{t: t, db: db, svc: svc, admin: adm, bank: bank, sandbox: sim.Sandbox(), plaid: fp, calls: calls, bankGUID: sim.Platform.BankGUID()}
	cust, err := bank.CreateCustomer(ctx, platform.CreateCustomerRequest{Type: platform.CustomerTypeIndividual, FirstName: "Alice", LastName: "Archer", EmailAddress: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if w.alice, err = db.CreateUser(ctx, store.User{Email: "alice@example.com", PasswordHash: "x", Role: store.RoleCustomer, CustomerGUID: cust.GUID}); err != nil {
		t.Fatal(err)
	}
	if w.boss, err = db.CreateUser(ctx, store.User{Email: "admin@example.com", PasswordHash: "x", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, store.User{Email: "ops@example.com", PasswordHash: "x", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	return w
}

// link creates a Plaid-backed connection through the platform and waits until it is completed locally.
func (w *world) link(customerGUID, id string) string {
	w.t.Helper()
	ctx := context.Background()
	a, err := w.bank.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: "Plaid Checking", AccountKind: platform.AccountKindPlaid,
		Asset: "USD", CustomerGUID: customerGUID, PlaidPublicToken: "public-" + id, PlaidAccountID: "acct-" + id})
	if err != nil {
		w.t.Fatal(err)
	}
	w.waitState(a.GUID, store.StateCompleted)
	return a.GUID
}

// expire has the platform expire guid's bank login (pinned in
// refresh_required) and syncs until the local copy says so.
func (w *world) expire(guid string) {
	w.t.Helper()
	if err := w.sandbox.PinState(context.Background(), guid, "refresh_required", ""); err != nil {
		w.t.Fatal(err)
	}
	w.waitState(guid, store.StateRefreshRequired)
}

// waitState syncs until the local copy of guid is in state.
func (w *world) waitState(guid, state string) store.Account {
	w.t.Helper()
	var a store.Account
	testutil.Eventually(w.t, 10*time.Second, func() error {
		if err := w.svc.Sync(context.Background()); err != nil {
			w.t.Fatal(err)
		}
		var err error
		if a, err = w.db.Account(context.Background(), guid); err != nil || a.State != state {
			return fmt.Errorf("%s: got state %q (%v), want %s", guid, a.State, err, state)
		}
		return nil
	})
	return a
}

func (w *world) audit(id int64) store.AuditEntry {
	w.t.Helper()
	e, err := w.db.Audit(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *world) emails(state string) []store.Email {
	w.t.Helper()
	m, err := w.db.Emails(context.Background(), state, 100)
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

// finishedRefresh waits for the connection's refresh job to end.
func (w *world) finishedRefresh(guid string) store.RefreshJob {
	w.t.Helper()
	var j store.RefreshJob
	testutil.Eventually(w.t, 10*time.Second, func() error {
		var err error
		if j, err = w.db.LatestRefreshJob(context.Background(), guid); err != nil || j.State == store.RefreshRunning {
			return fmt.Errorf("refresh of %s still running: %+v %v", guid, j, err)
		}
		return nil
	})
	return j
}

func TestRemindOnlyExpiredCustomerConnections(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, time.Minute)
	guid := w.link(w.alice.CustomerGUID, "a1")
	if _, err := w.admin.Remind(ctx, w.boss, guid); !isRefusal(err, connections.KindConflict) {
		t.Fatalf("remind a connected account: got %v, want a 409 refusal", err)
	}
	w.expire(guid)
	before := len(w.emails(store.EmailQueued))
	id, err := w.admin.Remind(ctx, w.boss, guid)
	if err != nil {
		t.Fatal(err)
	}
	if e := w.audit(id); e.Action != "remind" || e.Result != store.AuditOK || e.ActorEmail != "admin@example.com" || !strings.Contains(e.Detail, "alice@example.com") {
		t.Fatalf("audit: got %+v", e)
	}
	notes, _ := w.db.ActiveNotifications(ctx, w.alice.CustomerGUID)
	found := false
	for _, n := range notes {
		found = found || n.Kind == "reminder"
	}
	if !found {
		t.Fatalf("no reminder banner for alice: %+v", notes)
	}
	mails := w.emails(store.EmailQueued)
	if len(mails) != before+1 || mails[0].To != "alice@example.com" || !strings.HasPrefix(mails[0].Subject, "Reminder") {
		t.Fatalf("outbox: got %+v", mails)
	}
	if link := "https://portal.bank.example/accounts/" + guid; !strings.Contains(mails[0].Body, link) {
		t.Errorf("reminder email: want a link to %s, got %q", link, mails[0].Body)
	}
	d, err := w.admin.Connection(ctx, guid, id)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range d.Timeline {
		kinds[e.Kind] = true
	}
	for _, k := range []string{"state", "action", "notification", "email"} {
		if !kinds[k] {
			t.Errorf("timeline has no %s entry: %+v", k, d.Timeline)
		}
	}
	if d.Flash == nil || d.Flash.ID != id {
		t.Fatalf("flash: got %+v, want audit %d", d.Flash, id)
	}
}

func isRefusal(err error, kind connections.Kind) bool {
	var ce *connections.Error
	return errors.As(err, &ce) && ce.Kind == kind
}

func TestDisconnectMakesTheConnectionObsolete(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, time.Minute)
	guid := w.link(w.alice.CustomerGUID, "a1")
	id, err := w.admin.Disconnect(ctx, w.boss, guid)
	if err != nil {
		t.Fatal(err)
	}
	if e := w.audit(id); e.Result != store.AuditOK || !strings.Contains(e.Detail, "obsolete") {
		t.Fatalf("audit: got %+v", e)
	}
	w.admin.Wait()
	a, _ := w.db.Account(ctx, guid)
	if a.State != store.StateDeleted {
		t.Fatalf("state after disconnect: got %s, want deleted", a.State)
	}
	if w.plaid.removed.Load() != 1 {
		t.Fatalf("Plaid items removed: got %d, want 1", w.plaid.removed.Load())
	}
	if _, err := w.admin.Disconnect(ctx, w.boss, guid); !isRefusal(err, connections.KindConflict) {
		t.Fatalf("second disconnect: got %v, want 409", err)
	}
	// An obsolete connection cannot be reconnected, only linked anew.
	if _, err := w.svc.StartLink(ctx, w.alice, connections.ModeUpdate, guid); !isRefusal(err, connections.KindConflict) {
		t.Fatalf("reconnect an obsolete connection: got %v, want 409", err)
	}
}

func TestDisconnectRefusedEmailsEveryAdmin(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, time.Minute)
	guid := w.link("", "org1")
	if err := w.sandbox.SetFaults(ctx, []simplatform.Fault{{Method: http.MethodDelete, PathPrefix: "/api/external_bank_accounts", Status: 500}}); err != nil {
		t.Fatal(err)
	}
	id, err := w.admin.Disconnect(ctx, w.boss, guid)
	if err != nil {
		t.Fatal(err)
	}
	e := w.audit(id)
	if e.Result != store.AuditFailed || !strings.Contains(e.Detail, "500") || !strings.Contains(e.Detail, "2 admin") {
		t.Fatalf("audit: got %+v", e)
	}
	var to []string
	for _, m := range w.emails(store.EmailQueued) {
		if strings.HasPrefix(m.Subject, "Disconnect failed") {
			to = append(to, m.To)
			if !strings.Contains(m.Body, "500") || !strings.Contains(m.Body, guid) || !strings.Contains(m.Body, "Plaid Support") {
				t.Errorf("email body lacks the details: %q", m.Body)
			}
		}
	}
	if strings.Join(to, ",") != "ops@example.com,admin@example.com" {
		t.Fatalf("admins emailed: got %v", to)
	}
	if a, _ := w.db.Account(ctx, guid); a.State != store.StateCompleted {
		t.Fatalf("state after a refused disconnect: got %s, want completed", a.State)
	}
}

func TestOnDemandRefreshOutcomes(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		testOnDemandRefreshOutcomes(t, newWorldOn(t, engine, 400*time.Millisecond))
	})
}

func testOnDemandRefreshOutcomes(t *testing.T, w *world) {
	ctx := context.Background()

	t.Run("balances", func(t *testing.T) {
		guid := w.link(w.alice.CustomerGUID, "ok")
		if _, err := w.admin.StartRefresh(ctx, w.boss, guid); err != nil {
			t.Fatal(err)
		}
		j := w.finishedRefresh(guid)
		if j.State != store.RefreshSucceeded || !strings.Contains(j.Message, "$123.45") {
			t.Fatalf("job: got %+v", j)
		}
		a, _ := w.db.Account(ctx, guid)
		if a.BalanceAvailable == nil || *a.BalanceAvailable != 12_345 {
			t.Fatalf("local balance: got %v", a.BalanceAvailable)
		}
	})
	t.Run("refresh required", func(t *testing.T) {
		guid := w.link(w.alice.CustomerGUID, "expired")
		w.plaid.setRefresh(func(_ context.Context, at string) error {
			if at == "access-expired" {
				return &simplatform.PlaidError{Type: "ITEM_ERROR", Code: "ITEM_LOGIN_REQUIRED"}
			}
			return nil
		})
		defer w.plaid.setRefresh(nil)
		if _, err := w.admin.StartRefresh(ctx, w.boss, guid); err != nil {
			t.Fatal(err)
		}
		j := w.finishedRefresh(guid)
		if j.State != store.RefreshFailed || !strings.Contains(j.Message, "expired") || !strings.Contains(j.Message, "notified") {
			t.Fatalf("job: got %+v", j)
		}
		if a, _ := w.db.Account(ctx, guid); a.State != store.StateRefreshRequired {
			t.Fatalf("local state: got %s, want refresh_required", a.State)
		}
		notes, _ := w.db.ActiveNotifications(ctx, w.alice.CustomerGUID)
		if len(notes) == 0 {
			t.Fatal("alice was not notified")
		}
	})
	t.Run("products not supported", func(t *testing.T) {
		guid := w.link(w.alice.CustomerGUID, "capone")
		w.plaid.setRefresh(func(context.Context, string) error {
			return &simplatform.PlaidError{Type: "INVALID_REQUEST", Code: "PRODUCTS_NOT_SUPPORTED"}
		})
		defer w.plaid.setRefresh(nil)
		w.admin.StartRefresh(ctx, w.boss, guid)
		if j := w.finishedRefresh(guid); j.State != store.RefreshFailed || !strings.Contains(j.Message, "PRODUCTS_NOT_SUPPORTED") {
			t.Fatalf("job: got %+v", j)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		guid := w.link(w.alice.CustomerGUID, "slow")
		w.plaid.setRefresh(func(ctx context.Context, _ string) error {
			<-ctx.Done()
			return ctx.Err()
		})
		defer w.plaid.setRefresh(nil)
		if _, err := w.admin.StartRefresh(ctx, w.boss, guid); err != nil {
			t.Fatal(err)
		}
		// While it runs, a second refresh is refused.
		if _, err := w.admin.StartRefresh(ctx, w.boss, guid); !isRefusal(err, connections.KindConflict) {
			t.Fatalf("second refresh while running: got %v, want 409", err)
		}
		if j := w.finishedRefresh(guid); j.State != store.RefreshFailed || !strings.Contains(j.Message, "did not answer within") {
			t.Fatalf("job: got %+v", j)
		}
		w.admin.Wait() // the outcome's audit entry is written just after the job's
		audits, _ := w.db.AuditForAccount(ctx, guid)
		if len(audits) != 2 || audits[0].Result != store.AuditStarted || audits[1].Result != store.AuditFailed {
			t.Fatalf("audits: got %+v", audits)
		}
	})
}

// Forcing refresh_required follows the bank, not the portal's mode: a
// connection at a sandbox bank can be forced (in live mode too: the world's
// service has no demo switch), one at a production bank never.
func TestForceRefreshRequiredIsSandboxOnly(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, time.Minute)
	prod := w.link(w.alice.CustomerGUID, "p1")
	acct, err := w.db.Account(ctx, prod)
	if err != nil || acct.Environment != "sandbox" {
		t.Fatalf("linked account: environment %q, %v", acct.Environment, err)
	}
	acct.Environment = "production" // as the platform reports a production bank's account
	acct.UpdatedAt = acct.UpdatedAt.Add(time.Millisecond)
	if _, err := w.db.UpsertAccounts(ctx, []store.Account{acct}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.admin.ForceRefreshRequired(ctx, w.boss, prod); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("production bank: got %v, want ErrNotFound", err)
	}
	if remote, err := w.bank.GetExternalBankAccount(ctx, prod, platform.GetAccountOptions{}); err != nil || remote.State != platform.StateCompleted {
		t.Fatalf("production bank's platform state: got %s, %v; want it untouched", remote.State, err)
	}

	guid := w.link(w.alice.CustomerGUID, "s1")
	id, err := w.admin.ForceRefreshRequired(ctx, w.boss, guid)
	if err != nil {
		t.Fatal(err)
	}
	if e := w.audit(id); e.Result != store.AuditOK || !strings.Contains(e.Detail, "notified") {
		t.Fatalf("audit: got %+v", e)
	}
	remote, err := w.bank.GetExternalBankAccount(ctx, guid, platform.GetAccountOptions{})
	if err != nil || remote.State != platform.StateRefreshRequired {
		t.Fatalf("platform state: got %s, %v", remote.State, err)
	}
	notes, _ := w.db.ActiveNotifications(ctx, w.alice.CustomerGUID)
	mails := w.emails(store.EmailQueued)
	if len(notes) != 1 || len(mails) != 1 || mails[0].To != "alice@example.com" {
		t.Fatalf("customer notification: banners %+v, emails %+v", notes, mails)
	}
}

func TestAdminListFilters(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, time.Minute)
	a1 := w.link(w.alice.CustomerGUID, "a1")
	org := w.link("", "org1")
	for _, tc := range []struct {
		name string
		q    connections.AdminQuery
		want []string
		note bool
	}{
		{"all", connections.AdminQuery{}, []string{org, a1}, false},
		{"bank-level", connections.AdminQuery{BankLevel: true}, []string{org}, false},
		{"customer email", connections.AdminQuery{Customer: "ALICE@example.com"}, []string{a1}, false},
		{"customer guid", connections.AdminQuery{Customer: w.alice.CustomerGUID}, []string{a1}, false},
		{"unknown email", connections.AdminQuery{Customer: "nobody@example.com"}, nil, true},
		{"institution", connections.AdminQuery{Institution: "ins_109509"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := w.admin.Connections(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range l.Rows {
				got = append(got, r.GUID)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || (l.Note != "") != tc.note {
				t.Fatalf("got %v (note %q), want %v", got, l.Note, tc.want)
			}
		})
	}
	for _, bad := range []connections.AdminQuery{{Cursor: "nope"}, {State: "gone"}, {Customer: "alice"}, {Institution: "x' OR 1=1"}} {
		if _, err := w.admin.Connections(ctx, bad); !isRefusal(err, connections.KindInvalid) {
			t.Errorf("%+v: got %v, want a 400 refusal", bad, err)
		}
	}
}

// readyUpdate starts an update in Link as u and waits for its token.
func (w *world) readyUpdate(u store.User, guid string) store.LinkSession {
	w.t.Helper()
	ctx := context.Background()
	ls, err := w.svc.StartLink(ctx, u, connections.ModeUpdate, guid)
	if err != nil {
		w.t.Fatalf("start update of %s: %v", guid, err)
	}
	var s store.LinkSession
	testutil.Eventually(w.t, 10*time.Second, func() error {
		if s, _ = w.svc.LinkSession(ctx, u, ls.ID); s.State != store.LinkReady {
			return fmt.Errorf("link session: %+v", s)
		}
		return nil
	})
	return s
}

func (w *world) platformState(guid string) string {
	w.t.Helper()
	a, err := w.bank.GetExternalBankAccount(context.Background(), guid, platform.GetAccountOptions{})
	if err != nil {
		w.t.Fatalf("platform account %s: %v", guid, err)
	}
	return a.State
}

// Seed 001 step 4, as this platform has it: Link's selection speaks only for
// the Item Link opened, which is the one connection being updated.
func TestLinkReviewDisconnectsOnlyTheUpdatedConnection(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, time.Minute)
	w.plaid.names = map[string][2]string{"org1": {"Plaid Checking", "1111"}, "org2": {"Plaid Saving", "2222"}, "org3": {"Plaid CD", "3333"}}
	target := w.link("", "org1")
	sameBank := w.link("", "org2")
	other := w.link("", "org3")
	w.expire(target)

	// Only the updated account is selected: the other connections at that bank are not concerned.
	ls := w.readyUpdate(w.boss, target)
	res, err := w.svc.Complete(ctx, w.boss, ls.ID, connections.Success{InstitutionID: "ins_109508",
		Accounts: []connections.SuccessAccount{{ID: "x1", Name: "Plaid Checking", Mask: "1111"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "done" || res.Next != "/admin/link/"+ls.ID+"/review" {
		t.Fatalf("kept selected: got %+v", res)
	}
	r, err := w.admin.LinkReview(ctx, w.boss, ls.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "ready" || !r.HasUpdated || r.Updated.GUID != target || len(r.Unselected) != 0 {
		t.Fatalf("review: got status %s updated %s unselected %+v, want the target updated and nothing to disconnect", r.Status, r.Updated.GUID, r.Unselected)
	}
	if err := w.admin.DeactivateUnselected(ctx, w.boss, ls.ID); err != nil {
		t.Fatal(err)
	}
	w.admin.Wait()
	for g, want := range map[string]string{target: platform.StateCompleted, sameBank: platform.StateCompleted, other: platform.StateCompleted} {
		if got := w.platformState(g); got != want {
			t.Errorf("after keeping the selection, %s: got %s, want %s", g, got, want)
		}
	}

	// The updated account itself is left unselected: it is listed, not PATCHed, and only it is disconnected once confirmed.
	w.expire(target)
	ls = w.readyUpdate(w.boss, target)
	res, err = w.svc.Complete(ctx, w.boss, ls.ID, connections.Success{InstitutionID: "ins_109508",
		Accounts: []connections.SuccessAccount{{ID: "x2", Name: "Plaid Saving", Mask: "2222"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "unselected" || res.Next != "/admin/link/"+ls.ID+"/review" {
		t.Fatalf("left unselected: got %+v", res)
	}
	if got := w.platformState(target); got != platform.StateRefreshRequired {
		t.Fatalf("an unselected account was changed on the platform before confirming: got %s", got)
	}
	r, _ = w.admin.LinkReview(ctx, w.boss, ls.ID)
	if r.HasUpdated || len(r.Unselected) != 1 || r.Unselected[0].GUID != target {
		t.Fatalf("review: got updated %v unselected %+v, want only %s to confirm", r.HasUpdated, r.Unselected, target)
	}
	if err := w.admin.DeactivateUnselected(ctx, w.boss, ls.ID); err != nil {
		t.Fatal(err)
	}
	w.admin.Wait()
	r, _ = w.admin.LinkReview(ctx, w.boss, ls.ID)
	if !r.Confirmed || len(r.Deactivated) != 1 || r.Deactivated[0].AccountGUID != target || len(r.Unselected) != 0 {
		t.Fatalf("after confirming: got %+v", r)
	}
	for g, want := range map[string]string{target: platform.StateDeleted, sameBank: platform.StateCompleted, other: platform.StateCompleted} {
		if got := w.platformState(g); got != want {
			t.Errorf("after confirming, %s: got %s, want %s", g, got, want)
		}
	}
	// Another admin cannot read this admin's review.
	otherAdmin, _ := w.db.UserByEmail(ctx, "ops@example.com")
	if _, err := w.admin.LinkReview(ctx, otherAdmin, ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another admin's review: got %v, want ErrNotFound", err)
	}
}

// The customer's update follows the same rule: their account left unselected
// is not PATCHed; they are asked, and only a confirmation disconnects it.
func TestCustomerUpdateWithTheAccountUnselectedAsksFirst(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, time.Minute)
	w.plaid.names = map[string][2]string{"a1": {"Plaid Checking", "1111"}, "a2": {"Plaid Saving", "2222"}}
	target := w.link(w.alice.CustomerGUID, "a1")
	kept := w.link(w.alice.CustomerGUID, "a2")
	w.expire(target)
	ls := w.readyUpdate(w.alice, target)
	res, err := w.svc.Complete(ctx, w.alice, ls.ID, connections.Success{InstitutionID: "ins_109508",
		Accounts: []connections.SuccessAccount{{ID: "x2", Name: "Plaid Saving", Mask: "2222"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "unselected" || res.Next != "/link/"+ls.ID+"/review" {
		t.Fatalf("completion: got %+v, want unselected with the review page", res)
	}
	if got := w.platformState(target); got != platform.StateRefreshRequired {
		t.Fatalf("PATCHed without asking: got %s", got)
	}
	if n := len(mustQueued(t, w.db, w.alice.CustomerGUID)); n != 0 {
		t.Fatalf("queued completions: got %d, want none (nothing to send)", n)
	}
	// Only the customer who ran Link can see or answer the question.
	if _, err := w.svc.UnselectedReview(ctx, w.boss, ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("admin reading the customer's review: got %v", err)
	}
	rv, err := w.svc.UnselectedReview(ctx, w.alice, ls.ID)
	if err != nil || rv.Account.GUID != target || rv.Disconnected {
		t.Fatalf("review: got %+v, %v", rv, err)
	}
	// A platform failure changes nothing: the question stays open.
	if err := w.sandbox.SetFaults(ctx, []simplatform.Fault{{Method: "DELETE", PathPrefix: "/api/external_bank_accounts", Status: 500}}); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.DisconnectUnselected(ctx, w.alice, ls.ID); !isRefusal(err, connections.KindUnavailable) {
		t.Fatalf("disconnect while the platform fails: got %v, want a 502 refusal", err)
	}
	if err := w.sandbox.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.platformState(target); got != platform.StateRefreshRequired {
		t.Fatalf("after a failed disconnect: got %s", got)
	}
	if err := w.svc.DisconnectUnselected(ctx, w.alice, ls.ID); err != nil {
		t.Fatal(err)
	}
	w.waitState(target, store.StateDeleted)
	if got := w.platformState(kept); got != platform.StateCompleted {
		t.Fatalf("the other connection: got %s, want completed", got)
	}
	list, _ := w.db.CustomerAccounts(ctx, w.alice.CustomerGUID)
	for _, l := range list {
		if l.GUID == target && l.DisconnectedBy != "customer" {
			t.Fatalf("disconnected by: got %q, want customer", l.DisconnectedBy)
		}
	}
	// Hidden once seen, by its customer only; a live connection cannot be hidden.
	if err := w.svc.HideConnection(ctx, w.alice, kept); !isRefusal(err, connections.KindConflict) {
		t.Fatalf("hiding a live connection: got %v, want a 409 refusal", err)
	}
	if err := w.svc.HideConnection(ctx, w.boss, target); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("hiding as someone else: got %v, want ErrNotFound", err)
	}
	if err := w.svc.HideConnection(ctx, w.alice, target); err != nil {
		t.Fatal(err)
	}
	list, _ = w.db.CustomerAccounts(ctx, w.alice.CustomerGUID)
	if len(list) != 1 || list[0].GUID != kept {
		t.Fatalf("list after hiding: got %+v", list)
	}
}

func mustQueued(t *testing.T, db *store.DB, customer string) []store.Completion {
	t.Helper()
	q, err := db.QueuedCompletions(context.Background(), customer)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
