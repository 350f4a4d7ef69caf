package connections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	simplatform "github.com/bankconnections/portal/sim/platform"
	simworld "github.com/bankconnections/portal/sim/world"
	"github.com/bankconnections/portal/store"
)

// The model-based test of "one truth per connection": random, seeded
// sequences of events go through the real service, the real platform
// simulator over HTTP and a real SQLite file (Plaid is a func-field fake at
// the edge), and after every step the invariants are checked. A failing
// sequence is shrunk to the shortest one that still fails, and printed with
// its seed: go test ./connections -run TestModel -model.seed=N reruns it.
var (
	modelSeqs    = flag.Int("model.seqs", 300, "number of random sequences of the model-based test")
	modelSteps   = flag.Int("model.steps", 12, "steps per sequence of the model-based test")
	modelSeed    = flag.Uint64("model.seed", 0, "run only the sequence of this seed")
	modelWorkers = flag.Int("model.workers", 8, "sequences run at the same time (each in a world of its own)")
)

// event is one step of a sequence. Conn and Arg pick, modulo what exists when
// the step runs, so that a shrunk sequence stays meaningful.
type event struct {
	Kind string
	Conn int
	Arg  int
}

var eventKinds = []string{"platform", "platform", "platform", "sync-fails", "update", "update", "update", "create",
	"remind", "disconnect", "force", "refresh", "confirm", "hide", "retry"}

func (e event) String() string { return fmt.Sprintf("%s(conn %d, arg %d)", e.Kind, e.Conn, e.Arg) }

func randomEvents(seed uint64, n int) []event {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]event, n)
	for i := range out {
		out[i] = event{Kind: eventKinds[r.IntN(len(eventKinds))], Conn: r.IntN(100), Arg: r.IntN(100)}
	}
	return out
}

// recorder notes every PATCH to completed the portal sends to the platform.
type recorder struct {
	base    http.RoundTripper
	mu      sync.Mutex
	patched []string // guids PATCHed to completed
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPatch && strings.HasPrefix(req.URL.Path, "/api/external_bank_accounts/") && req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(b))
		var p struct {
			State string `json:"state"`
		}
		if json.Unmarshal(b, &p) == nil && p.State == rules.Completed {
			r.mu.Lock()
			r.patched = append(r.patched, strings.TrimPrefix(req.URL.Path, "/api/external_bank_accounts/"))
			r.mu.Unlock()
		}
	}
	return r.base.RoundTrip(req)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.patched
	r.patched = nil
	return out
}

type modelConn struct {
	guid   string
	owner  store.User
	bank   bool // the organization's own
	plaid  string
	hidden bool
}

type modelReview struct {
	session string
	owner   store.User
	target  string
}

// model is one run of a sequence in a world of its own.
type model struct {
	ctx     context.Context
	db      *store.DB
	svc     *connections.Service
	admin   *connections.Admin
	bank    *platform.Client
	sandbox simplatform.Sandbox
	plaid   *fakePlaid
	rec     *recorder
	alice   store.User
	boss    store.User
	conns   []*modelConn
	reviews []modelReview
	queued  map[string]bool // connections with a kept update still queued for the platform
	pins    map[string]bool // connections the sandbox holds in a state
	offset  atomic.Int64    // how far the portal's clock is ahead (time passing for retries)
	next    int
	close   func()
}

// infraError is a failure of the test's world, not of the rules: reported at once, never shrunk.
type infraError struct{ err error }

func (e infraError) Error() string { return "test world: " + e.err.Error() }

func newModel() (*model, error) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &model{ctx: ctx, plaid: &fakePlaid{inst: "ins_109508", names: map[string][2]string{}}, queued: map[string]bool{}, pins: map[string]bool{}}
	dir, err := modelTempDir()
	if err != nil {
		return nil, err
	}
	sims, err := simworld.New(ctx, simworld.Config{Plaid: m.plaid, Platform: simplatform.Config{DataDir: dir, StoringDelay: 10 * time.Millisecond}})
	if err != nil {
		return nil, err
	}
	sim, url := sims.Platform, sims.PlatformURL
	m.rec = &recorder{base: http.DefaultTransport}
	pcfg := platform.Config{BaseURL: url, TokenURL: url + "/oauth/token", ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(),
		Logger: log, RetryBase: time.Millisecond, HTTPClient: &http.Client{Transport: m.rec, Timeout: 20 * time.Second}}
	m.bank = platform.New(pcfg)
	m.db, err = store.Open(ctx, filepath.Join(dir, "portal.db"))
	if err != nil {
		sims.Close()
		return nil, err
	}
	m.svc = connections.New(log, m.db, m.bank, connections.Config{BankGUID: sim.BankGUID(), SyncInterval: time.Hour})
	clock := func() time.Time { return time.Now().Add(time.Duration(m.offset.Load())) }
	m.svc.SetClock(clock)
	m.db.SetClock(clock)
	slow := pcfg
	slow.MaxRetries = -1
	m.admin = connections.NewAdmin(m.svc, platform.New(slow), connections.AdminConfig{RefreshTimeout: 10 * time.Second})
	m.sandbox = sims.Sandbox()
	m.close = func() {
		// Run with an ended context stops the service and waits for the work it started.
		stopped, stop := context.WithCancel(ctx)
		stop()
		m.svc.Run(stopped)
		m.admin.Wait()
		sims.Close()
		m.db.Close()
	}
	cust, err := m.bank.CreateCustomer(ctx, platform.CreateCustomerRequest{Type: platform.CustomerTypeIndividual, FirstName: "Alice", LastName: "Archer", EmailAddress: "alice@example.com"})
	if err != nil {
		m.close()
		return nil, err
	}
	if m.alice, err = m.db.CreateUser(ctx, store.User{Email: "alice@example.com", PasswordHash: "x", Role: store.RoleCustomer, CustomerGUID: cust.GUID}); err != nil {
		m.close()
		return nil, err
	}
	if m.boss, err = m.db.CreateUser(ctx, store.User{Email: "admin@example.com", PasswordHash: "x", Role: store.RoleAdmin}); err != nil {
		m.close()
		return nil, err
	}
	// Two connections of the customer and two of the organization, all at the same bank.
	for _, owner := range []store.User{m.alice, m.alice, m.boss, m.boss} {
		id := m.newPlaidAccount()
		a, err := m.bank.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: m.name(id)[0], AccountKind: platform.AccountKindPlaid,
			Asset: "USD", CustomerGUID: owner.CustomerGUID, PlaidPublicToken: "public-" + id, PlaidAccountID: "acct-" + id})
		if err != nil {
			m.close()
			return nil, err
		}
		m.conns = append(m.conns, &modelConn{guid: a.GUID, owner: owner, bank: owner.IsAdmin(), plaid: id})
	}
	for _, c := range m.conns {
		if err := m.settle(c.guid); err != nil {
			m.close()
			return nil, err
		}
	}
	return m, nil
}

// modelRoot holds the worlds' files; each run gets a folder of its own.
var modelRoot string

func modelTempDir() (string, error) { return os.MkdirTemp(modelRoot, "run") }

func (m *model) newPlaidAccount() string {
	m.next++
	id := fmt.Sprintf("m%d", m.next)
	m.setName(id, [2]string{fmt.Sprintf("Plaid Account %d", m.next), fmt.Sprintf("%04d", 1000+m.next)})
	return id
}

func (m *model) setName(id string, nm [2]string) {
	m.plaid.mu.Lock()
	defer m.plaid.mu.Unlock()
	m.plaid.names[id] = nm
}

func (m *model) name(id string) [2]string {
	m.plaid.mu.Lock()
	defer m.plaid.mu.Unlock()
	return m.plaid.names[id]
}

// settle syncs until a connection is neither storing nor deleting (the platform's own moves end quickly here).
func (m *model) settle(guid string) error {
	return testutil.Poll(20*time.Second, func() error {
		if err := m.svc.Sync(m.ctx); err != nil {
			return testutil.Stop(err)
		}
		a, err := m.db.Account(m.ctx, guid)
		if err == nil && a.State != store.StateStoring && a.State != store.StateDeleting {
			return nil
		}
		if err == nil && a.State == store.StateStoring && m.platformState(guid) == store.StateStoring && m.pinned(guid) {
			return nil
		}
		if err == nil && a.State == store.StateDeleting && m.platformState(guid) == store.StateDeleting && m.pinned(guid) {
			return nil
		}
		return fmt.Errorf("%s still %s (%v)", guid, a.State, err)
	})
}

// readyLink waits for the link session's token, as the Link glue does.
func (m *model) readyLink(ctx context.Context, owner store.User, ls store.LinkSession) error {
	return testutil.Poll(20*time.Second, func() error {
		if ls.State == store.LinkReady {
			return nil
		}
		if ls.State == store.LinkFailed {
			return testutil.Stop(fmt.Errorf("link session %s: %s", ls.State, ls.Message))
		}
		var err error
		if ls, err = m.svc.LinkSession(ctx, owner, ls.ID); err != nil {
			return testutil.Stop(err)
		}
		return fmt.Errorf("link session %s: %s", ls.State, ls.Message)
	})
}

func (m *model) pinned(guid string) bool { return m.pins[guid] }

func (m *model) platformState(guid string) string {
	a, err := m.bank.GetExternalBankAccount(m.ctx, guid, platform.GetAccountOptions{})
	if err != nil {
		return "unknown"
	}
	return a.State
}

func (m *model) local(guid string) store.Account {
	a, _ := m.db.Account(m.ctx, guid)
	return a
}

func (m *model) conn(i int) *modelConn { return m.conns[i%len(m.conns)] }

func subjectOf(a store.Account) rules.AdminSubject {
	return rules.AdminSubject{State: a.State, BankLevel: a.CustomerGUID == "", Sandbox: connections.SandboxBank(a)}
}

// refused tells whether err is the domain saying no (not a platform failure).
func refused(err error) bool {
	var ce *connections.Error
	return errors.Is(err, store.ErrNotFound) || (errors.As(err, &ce) && ce.Kind != connections.KindUnavailable)
}

// snapshot is every connection's state, locally and on the platform.
type snapshot map[string][2]string

func (m *model) snapshot() snapshot {
	s := snapshot{}
	for _, c := range m.conns {
		s[c.guid] = [2]string{m.local(c.guid).State, m.platformState(c.guid)}
	}
	return s
}

func (m *model) setFaults(f ...simplatform.Fault) error { return m.sandbox.SetFaults(m.ctx, f) }

// step runs one event. It returns the connections the event acts on (the
// only ones allowed to change), those it may PATCH to completed, and a
// violation of a rule, if any.
func (m *model) step(e event) (acted, mayPatch []string, violation error) {
	ctx := m.ctx
	c := m.conn(e.Conn)
	before := m.local(c.guid)
	defer func() { _ = m.sandbox.ClearFaults(ctx) }()
	switch e.Kind {
	case "platform":
		// The platform moves the connection into any state; the sync picks it up.
		if ps := m.platformState(c.guid); ps == store.StateDeleted || ps == store.StateDeleting {
			return nil, nil, nil // gone for good on the platform
		}
		state := rules.States[e.Arg%len(rules.States)]
		failure := ""
		if state == store.StateFailed {
			failure = "duplicate"
		}
		if err := m.sandbox.PinState(ctx, c.guid, state, failure); err != nil {
			return nil, nil, infraError{err}
		}
		m.pins[c.guid] = true
		if err := m.svc.Sync(ctx); err != nil {
			return nil, nil, infraError{err}
		}
		if got := m.local(c.guid).State; got != state {
			return nil, nil, fmt.Errorf("after the platform moved %s to %s and a sync, the portal shows %s", c.guid, state, got)
		}
		return []string{c.guid}, nil, nil
	case "sync-fails":
		if err := m.setFaults(simplatform.Fault{Method: http.MethodGet, PathPrefix: "/api/external_bank_accounts", Status: 500}); err != nil {
			return nil, nil, infraError{err}
		}
		if err := m.svc.Sync(ctx); err == nil {
			return nil, nil, errors.New("a sync against a failing platform reported success")
		}
		return nil, nil, nil
	case "update":
		return m.update(c, before, e.Arg)
	case "create":
		return m.create(e)
	case "remind", "disconnect", "force", "refresh":
		action := map[string]rules.Action{"remind": rules.Remind, "disconnect": rules.Disconnect, "force": rules.ForceRefreshRequired, "refresh": rules.Refresh}[e.Kind]
		allowed := rules.AdminAllows(subjectOf(before), action)
		fault := e.Arg%3 == 0
		if fault {
			method := map[string]string{"remind": "", "disconnect": http.MethodDelete, "force": http.MethodPatch, "refresh": http.MethodGet}[e.Kind]
			if method != "" {
				if err := m.setFaults(simplatform.Fault{Method: method, PathPrefix: "/api/external_bank_accounts/", Status: 500}); err != nil {
					return nil, nil, infraError{err}
				}
			}
		}
		var err error
		switch e.Kind {
		case "remind":
			_, err = m.admin.Remind(ctx, m.boss, c.guid)
		case "disconnect":
			_, err = m.admin.Disconnect(ctx, m.boss, c.guid)
		case "force":
			_, err = m.admin.ForceRefreshRequired(ctx, m.boss, c.guid)
		case "refresh":
			_, err = m.admin.StartRefresh(ctx, m.boss, c.guid)
			m.admin.Wait()
		}
		_ = m.sandbox.ClearFaults(ctx)
		switch {
		case allowed && refused(err):
			return nil, nil, fmt.Errorf("%s on a %s connection is offered, but the domain refused it: %v", e.Kind, before.State, err)
		case !allowed && !refused(err):
			return nil, nil, fmt.Errorf("%s on a %s connection is not offered, but the domain did not refuse it (err %v)", e.Kind, before.State, err)
		case err != nil && !refused(err):
			return nil, nil, infraError{err}
		}
		if allowed && e.Kind == "disconnect" && !fault {
			delete(m.pins, c.guid) // a DELETE ends the sandbox's pin
			if err := m.settle(c.guid); err != nil {
				return nil, nil, infraError{err}
			}
			if got := m.local(c.guid).State; got != store.StateDeleted {
				return nil, nil, fmt.Errorf("after a disconnect the connection is %s, want deleted", got)
			}
		}
		if e.Kind == "refresh" {
			// A refresh can find the login expired and resync the connection.
			return []string{c.guid}, nil, nil
		}
		return []string{c.guid}, nil, nil
	case "confirm":
		if len(m.reviews) == 0 {
			return nil, nil, nil
		}
		r := m.reviews[e.Arg%len(m.reviews)]
		target := m.local(r.target)
		var err error
		if r.owner.IsAdmin() {
			err = m.admin.DeactivateUnselected(ctx, r.owner, r.session)
		} else {
			err = m.svc.DisconnectUnselected(ctx, r.owner, r.session)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("confirming the disconnect of an unselected %s connection: %v", target.State, err)
		}
		if !rules.Obsolete(target.State) {
			delete(m.pins, r.target)
			if err := m.settle(r.target); err != nil {
				return nil, nil, infraError{err}
			}
			if got := m.local(r.target).State; got != store.StateDeleted {
				return nil, nil, fmt.Errorf("after confirming, the unselected connection is %s, want deleted", got)
			}
		}
		return []string{r.target}, nil, nil
	case "hide":
		err := m.svc.HideConnection(ctx, m.alice, c.guid)
		allowed := !c.bank && rules.CustomerAllows(rules.CustomerSubject{State: before.State}, rules.Hide)
		switch {
		case allowed && err != nil:
			return nil, nil, fmt.Errorf("hiding a %s connection is offered, but refused: %v", before.State, err)
		case !allowed && !refused(err):
			return nil, nil, fmt.Errorf("hiding a %s connection (organization's: %v) is not offered, but was not refused (%v)", before.State, c.bank, err)
		}
		if allowed {
			c.hidden = true
		}
		return []string{c.guid}, nil, nil
	case "retry":
		// Time passes and the worker retries what is queued.
		m.offset.Add(int64(5 * time.Minute))
		m.svc.RetryDue(ctx)
		var acted []string
		for g := range m.queued {
			acted = append(acted, g)
		}
		queued, err := m.db.QueuedCompletions(ctx, m.alice.CustomerGUID)
		if err != nil {
			return nil, nil, infraError{err}
		}
		org, err := m.db.QueuedCompletions(ctx, "")
		if err != nil {
			return nil, nil, infraError{err}
		}
		still := map[string]bool{}
		for _, q := range append(queued, org...) {
			still[q.AccountGUID] = true
		}
		for g := range m.queued {
			if !still[g] {
				delete(m.queued, g)
			}
		}
		return acted, acted, nil
	}
	return nil, nil, infraError{fmt.Errorf("unknown event %s", e.Kind)}
}

// update opens Link in update mode as the connection's owner and finishes it
// with one of four selections: none reported, the account kept, only another
// account, or both; with a PATCH failure now and then.
func (m *model) update(c *modelConn, before store.Account, arg int) ([]string, []string, error) {
	ctx := m.ctx
	allowed := rules.CustomerAllows(rules.CustomerSubject{State: before.State, Finishing: m.queued[c.guid]}, rules.Reconnect)
	if c.bank {
		allowed = rules.AdminAllows(subjectOf(before), rules.Update)
	}
	ls, err := m.svc.StartLink(ctx, c.owner, connections.ModeUpdate, c.guid)
	switch {
	case allowed && refused(err):
		return nil, nil, fmt.Errorf("updating a %s connection in Link is offered, but refused: %v", before.State, err)
	case !allowed && !refused(err):
		return nil, nil, fmt.Errorf("updating a %s connection in Link is not offered, but was not refused (%v)", before.State, err)
	case err != nil && !refused(err):
		return nil, nil, infraError{err}
	case !allowed:
		return nil, nil, nil
	}
	if err := m.readyLink(ctx, c.owner, ls); err != nil {
		return nil, nil, infraError{err}
	}
	own := m.name(c.plaid)
	other := m.name(m.conns[(slices.Index(m.conns, c)+1)%len(m.conns)].plaid)
	mine := connections.SuccessAccount{ID: "acct-" + c.plaid, Name: own[0], Mask: own[1]}
	theirs := connections.SuccessAccount{ID: "acct-other", Name: other[0], Mask: other[1]}
	selection := [][]connections.SuccessAccount{nil, {mine}, {theirs}, {theirs, mine}}[arg%4]
	kept := arg%4 != 2
	fault := arg/4%3 == 0
	if fault {
		if err := m.setFaults(simplatform.Fault{Method: http.MethodPatch, PathPrefix: "/api/external_bank_accounts/", Status: 503}); err != nil {
			return nil, nil, infraError{err}
		}
	}
	res, err := m.svc.Complete(ctx, c.owner, ls.ID, connections.Success{InstitutionID: m.plaid.inst, Accounts: selection})
	_ = m.sandbox.ClearFaults(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("completing an update (kept %v): %v", kept, err)
	}
	var mayPatch []string
	switch {
	case !kept:
		if res.Status != "unselected" || res.Next == "" {
			return nil, nil, fmt.Errorf("an update that left the account unselected: got status %q next %q, want the owner asked", res.Status, res.Next)
		}
		m.reviews = append(m.reviews, modelReview{session: ls.ID, owner: c.owner, target: c.guid})
	case fault:
		mayPatch = []string{c.guid}
		if res.Status != "finishing" {
			return nil, nil, fmt.Errorf("an update while the platform fails: got status %q, want finishing", res.Status)
		}
		m.queued[c.guid] = true
	default:
		mayPatch = []string{c.guid}
		if res.Status != "done" {
			return nil, nil, fmt.Errorf("an update: got status %q, want done", res.Status)
		}
	}
	return []string{c.guid}, mayPatch, nil
}

// create links a new account as the customer or the admin: a new one, or
// the same account as one of the owner's existing connections.
func (m *model) create(e event) ([]string, []string, error) {
	ctx := m.ctx
	owner := m.alice
	if e.Arg%2 == 1 {
		owner = m.boss
	}
	id := m.newPlaidAccount()
	var dupOf *modelConn
	if e.Arg/2%2 == 0 {
		var mine []*modelConn
		for _, c := range m.conns {
			if c.owner.ID == owner.ID {
				mine = append(mine, c)
			}
		}
		if len(mine) > 0 {
			dupOf = mine[e.Conn%len(mine)]
			m.setName(id, m.name(dupOf.plaid))
		}
	}
	ls, err := m.svc.StartLink(ctx, owner, connections.ModeCreate, "")
	if err != nil {
		return nil, nil, infraError{err}
	}
	if err := m.readyLink(ctx, owner, ls); err != nil {
		return nil, nil, infraError{err}
	}
	nm := m.name(id)
	// Create mode links one account: no account or two are refused, and nothing changes.
	if e.Arg%5 == 4 {
		wrong := [][]connections.SuccessAccount{nil, {{ID: "acct-" + id, Name: nm[0], Mask: nm[1]}, {ID: "acct-x", Name: "Plaid Saving", Mask: "9999"}}}[e.Conn%2]
		_, err := m.svc.Complete(ctx, owner, ls.ID, connections.Success{PublicToken: "public-" + id, InstitutionID: m.plaid.inst, Accounts: wrong})
		if !refused(err) {
			return nil, nil, fmt.Errorf("linking %d accounts at once: got %v, want a refusal", len(wrong), err)
		}
		return nil, nil, nil
	}
	res, err := m.svc.Complete(ctx, owner, ls.ID, connections.Success{PublicToken: "public-" + id, InstitutionID: m.plaid.inst,
		Accounts: []connections.SuccessAccount{{ID: "acct-" + id, Name: nm[0], Mask: nm[1]}}})
	if dupOf != nil {
		// Any live connection of the owner with this account makes it a duplicate.
		var live []store.Account
		for _, c := range m.conns {
			if a := m.local(c.guid); c.owner.ID == owner.ID && m.name(c.plaid) == nm &&
				a.State != store.StateDeleted && a.State != store.StateDeleting && a.State != store.StateFailed {
				live = append(live, a)
			}
		}
		var ce *connections.Error
		switch {
		case len(live) > 0 && !errors.As(err, &ce):
			return nil, nil, fmt.Errorf("linking the account of a live connection again: got %v, want a duplicate refusal", err)
		case len(live) > 0:
			offered := slices.IndexFunc(live, func(a store.Account) bool { return a.GUID == ce.ExistingGUID })
			if ce.ExistingGUID != "" && (offered < 0 || !rules.CustomerAllows(rules.CustomerSubject{State: live[offered].State, Finishing: m.queued[live[offered].GUID]}, rules.Reconnect)) {
				return nil, nil, fmt.Errorf("the duplicate refusal offers reconnecting %s, which cannot be reconnected: %s", ce.ExistingGUID, ce.Message)
			}
			if ce.ExistingGUID == "" && strings.Contains(ce.Message, "Reconnect") {
				return nil, nil, fmt.Errorf("the duplicate refusal talks of reconnecting without offering it: %s", ce.Message)
			}
			return nil, nil, nil
		}
	}
	if err != nil || res.Status != "done" {
		return nil, nil, fmt.Errorf("linking a new account: got %+v, %v", res, err)
	}
	c := &modelConn{guid: res.AccountGUID, owner: owner, bank: owner.IsAdmin(), plaid: id}
	m.conns = append(m.conns, c)
	if err := m.settle(c.guid); err != nil {
		return nil, nil, infraError{err}
	}
	return []string{c.guid}, nil, nil
}

// check verifies the invariants after a step.
func (m *model) check(before snapshot, acted, mayPatch, patched []string) error {
	ctx := m.ctx
	// Nothing is PATCHed to completed that its owner did not keep selected.
	for _, g := range patched {
		if !slices.Contains(mayPatch, g) {
			return fmt.Errorf("%s was PATCHed to completed although its owner did not keep it selected in Link", g)
		}
	}
	// No connection other than the one acted on changes, here or on the platform.
	after := m.snapshot()
	for g, was := range before {
		if !slices.Contains(acted, g) && after[g] != was {
			return fmt.Errorf("connection %s was not acted on but changed: local/platform %v → %v", g, was, after[g])
		}
	}
	accounts := map[string]store.Account{}
	for _, c := range m.conns {
		accounts[c.guid] = m.local(c.guid)
	}
	// A banner exists only while its reason holds, and was raised in the current stay in that state.
	banners, err := m.db.ActiveNotifications(ctx, m.alice.CustomerGUID)
	if err != nil {
		return infraError{err}
	}
	for _, b := range banners {
		a, ok := accounts[b.AccountGUID]
		reason := rules.ReasonState(b.Kind, b.AccountGUID != "")
		switch {
		case reason == "":
			continue
		case !ok || a.State != reason:
			return fmt.Errorf("a %s banner is shown for a %s connection (%q)", b.Kind, a.State, b.Message)
		case b.CreatedAt.Before(a.StateChangedAt):
			return fmt.Errorf("a %s banner from %s outlived its reason: the connection left %s and came back at %s", b.Kind, b.CreatedAt, reason, a.StateChangedAt)
		}
	}
	// The customer's list and the admin tab show the same state for the same connection.
	list, err := m.db.CustomerAccounts(ctx, m.alice.CustomerGUID)
	if err != nil {
		return infraError{err}
	}
	tab, err := m.admin.Connections(ctx, connections.AdminQuery{Customer: m.alice.CustomerGUID})
	if err != nil {
		return infraError{err}
	}
	adminState := map[string]string{}
	for _, r := range tab.Rows {
		adminState[r.GUID] = r.State
	}
	listed := map[string]bool{}
	for _, a := range list {
		listed[a.GUID] = true
		if s, ok := adminState[a.GUID]; !ok || s != a.State || rules.Label(s) != rules.Label(a.State) {
			return fmt.Errorf("connection %s: the customer sees %s, the admin tab %q", a.GUID, a.State, s)
		}
	}
	for _, c := range m.conns {
		if !c.bank && !c.hidden && !listed[c.guid] {
			return fmt.Errorf("the customer's connection %s (%s) is missing from their list", c.guid, accounts[c.guid].State)
		}
		if c.hidden && listed[c.guid] {
			return fmt.Errorf("the hidden connection %s is still listed", c.guid)
		}
	}
	// No action is offered that the domain would refuse: every action the rules
	// do not offer is refused (and changes nothing, which the next step checks);
	// the offered ones are taken by the steps, where a refusal fails.
	for _, c := range m.conns {
		a := accounts[c.guid]
		s := subjectOf(a)
		for _, act := range []rules.Action{rules.Remind, rules.Disconnect, rules.ForceRefreshRequired, rules.Refresh, rules.Update} {
			if rules.AdminAllows(s, act) {
				continue
			}
			var err error
			switch act {
			case rules.Remind:
				_, err = m.admin.Remind(ctx, m.boss, c.guid)
			case rules.Disconnect:
				_, err = m.admin.Disconnect(ctx, m.boss, c.guid)
			case rules.ForceRefreshRequired:
				_, err = m.admin.ForceRefreshRequired(ctx, m.boss, c.guid)
			case rules.Refresh:
				_, err = m.admin.StartRefresh(ctx, m.boss, c.guid)
			case rules.Update:
				_, err = m.svc.StartLink(ctx, m.boss, connections.ModeUpdate, c.guid)
			}
			if !refused(err) {
				return fmt.Errorf("the admin is not offered %s on a %s connection (organization's: %v), but the domain allowed it (%v)", act, a.State, c.bank, err)
			}
		}
		if !c.bank && !rules.CustomerAllows(rules.CustomerSubject{State: a.State, Finishing: m.queued[c.guid]}, rules.Reconnect) {
			if _, err := m.svc.StartLink(ctx, m.alice, connections.ModeUpdate, c.guid); !refused(err) {
				return fmt.Errorf("the customer is not offered Reconnect on a %s connection, but the domain allowed it (%v)", a.State, err)
			}
		}
		if !c.bank && !rules.CustomerAllows(rules.CustomerSubject{State: a.State}, rules.Hide) {
			if err := m.svc.HideConnection(ctx, m.alice, c.guid); !refused(err) {
				return fmt.Errorf("the customer is not offered Hide on a %s connection, but the domain allowed it (%v)", a.State, err)
			}
		}
	}
	return nil
}

// run plays a sequence in a fresh world; it returns the index of the step
// that broke a rule and the violation, or -1.
func runModel(events []event) (int, error) {
	m, err := newModel()
	if err != nil {
		return -1, infraError{err}
	}
	defer m.close()
	m.rec.take()
	for i, e := range events {
		before := m.snapshot()
		acted, mayPatch, err := m.step(e)
		if err == nil {
			err = m.check(before, acted, mayPatch, m.rec.take())
		}
		if err != nil {
			return i, err
		}
	}
	return -1, nil
}

// shrink finds a shorter sequence that still breaks a rule: the failing
// prefix, then every step that can be dropped is dropped.
func shrink(events []event, failedAt int) []event {
	cur := slices.Clone(events[:failedAt+1])
	for i := len(cur) - 1; i >= 0; i-- {
		cand := slices.Delete(slices.Clone(cur), i, i+1)
		if at, err := runModel(cand); err != nil && !errors.As(err, new(infraError)) {
			cur = cand[:at+1]
			if i > len(cur) {
				i = len(cur)
			}
		}
	}
	return cur
}

func TestModelOneTruthPerConnection(t *testing.T) {
	modelRoot = t.TempDir()
	n := *modelSeqs
	if testing.Short() || raceEnabled {
		n = min(n, 30)
	}
	seeds := make([]uint64, 0, n)
	if *modelSeed != 0 {
		seeds = append(seeds, *modelSeed)
	} else {
		base := uint64(time.Now().UnixNano())
		for i := range n {
			seeds = append(seeds, base+uint64(i)*7919)
		}
	}
	t.Logf("model: first seed %d", seeds[0])
	start := time.Now()
	type outcome struct {
		seed   uint64
		events []event
		at     int
		err    error
	}
	// Sequences run side by side, each in its own world: most of a step is
	// waiting on the platform simulator, not CPU.
	work := make(chan uint64)
	results := make(chan outcome)
	var wg sync.WaitGroup
	for range max(1, *modelWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range work {
				events := randomEvents(seed, *modelSteps)
				at, err := runModel(events)
				results <- outcome{seed, events, at, err}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, s := range seeds {
			work <- s
		}
	}()
	go func() { wg.Wait(); close(results) }()
	var failed *outcome
	ran, steps := 0, 0
	kinds := map[string]int{}
	for o := range results {
		ran++
		steps += len(o.events)
		for _, e := range o.events {
			kinds[e.Kind]++
		}
		if o.err != nil && (failed == nil || o.seed < failed.seed) {
			f := o
			failed = &f
		}
	}
	t.Logf("model: %d sequences of %d steps (%d steps) in %s; events %v", ran, *modelSteps, steps, time.Since(start).Round(time.Millisecond), kinds)
	if failed == nil {
		return
	}
	if errors.As(failed.err, new(infraError)) {
		t.Fatalf("seed %d: %v", failed.seed, failed.err)
	}
	short := shrink(failed.events, failed.at)
	_, serr := runModel(short)
	var b strings.Builder
	for i, e := range short {
		fmt.Fprintf(&b, "\n  %d. %s", i+1, e)
	}
	t.Fatalf("seed %d broke a rule at step %d: %v\nshortest failing sequence (%d steps): %v%s\nrerun: go test ./connections -run TestModelOneTruthPerConnection -model.seed=%d -model.steps=%d",
		failed.seed, failed.at+1, failed.err, len(short), serr, b.String(), failed.seed, *modelSteps)
}
