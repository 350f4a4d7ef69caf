package connections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/platform"
	simplaid "github.com/bankconnections/portal/sim/plaid"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/store"
)

// Faults through the real simulator on every platform call of both Link
// flows: nothing is lost, nothing is created twice, the customer sees an
// honest state, and retries are bounded.

// faultKinds are what the platform does wrong. A timeout holds the request
// until the client gives up (its attempt timeout); slow answers come late
// but within it.
var faultKinds = []struct {
	name  string
	fault simplatform.Fault
}{
	{"500", simplatform.Fault{Status: http.StatusInternalServerError}},
	{"429", simplatform.Fault{Status: http.StatusTooManyRequests}},
	{"timeout", simplatform.Fault{Timeout: true, Count: 1}},
	{"slow", simplatform.Fault{LatencyMS: 400}},
}

// platformCalls are the calls of the two flows, and which flow makes them.
var platformCalls = []struct {
	name, method, prefix string
	modes                []string
}{
	{"customer token", http.MethodPost, "/api/customer_tokens", []string{connections.ModeCreate}},
	{"create workflow", http.MethodPost, "/api/workflows", []string{connections.ModeCreate, connections.ModeUpdate}},
	{"poll workflow", http.MethodGet, "/api/workflows/", []string{connections.ModeCreate, connections.ModeUpdate}},
	{"create account", http.MethodPost, "/api/external_bank_accounts", []string{connections.ModeCreate}},
	{"find a created account", http.MethodGet, "/api/external_bank_accounts", []string{connections.ModeCreate}},
	{"complete update", http.MethodPatch, "/api/external_bank_accounts/", []string{connections.ModeUpdate}},
}

// faultsInjected counts the fault cases run, for the README's figures.
var faultsInjected atomic.Int64

var customerSeq atomic.Int64

// freshCustomer is a new customer with a portal login, so each case starts
// with no token cached and no connections.
func (e *env) freshCustomer() store.User {
	e.t.Helper()
	n := customerSeq.Add(1)
	return e.user(fmt.Sprintf("c%d@example.com", n), store.RoleCustomer, e.customer(fmt.Sprintf("C%d", n)))
}

// sandboxLink is a finished Link session at the Plaid stand-in: a public
// token sharing one account.
func (e *env) sandboxLink(institutionID string) simplaid.SandboxLinked {
	e.t.Helper()
	l, err := any(e.plaid).(interface {
		SandboxLink(institutionID, webhook string) (simplaid.SandboxLinked, error)
	}).SandboxLink(institutionID, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// waitSession polls a Link session until it leaves pending.
func (e *env) waitSession(u store.User, id string) store.LinkSession {
	e.t.Helper()
	var ls store.LinkSession
	e.eventually("link session settles", func() bool {
		var err error
		ls, err = e.svc.LinkSession(context.Background(), u, id)
		return err == nil && ls.State != store.LinkPending
	})
	return ls
}

func TestFaultsOnEveryPlatformCallOfBothFlows(t *testing.T) {
	t.Cleanup(func() { t.Logf("faults injected: %d cases", faultsInjected.Load()) })
	eachEngine(t, func(t *testing.T, engine string) {
		for _, call := range platformCalls {
			t.Run(call.name, func(t *testing.T) {
				t.Parallel()
				e := newEnvOn(t, engine)
				for _, mode := range call.modes {
					for _, kind := range faultKinds {
						t.Run(mode+"/"+kind.name, func(t *testing.T) {
							e.t = t
							faultsInjected.Add(1)
							runFaultCase(t, e, call.method, call.prefix, mode, kind.name, kind.fault)
						})
					}
				}
			})
		}
	})
}

func runFaultCase(t *testing.T, e *env, method, prefix, mode, kind string, fault simplatform.Fault) {
	ctx := context.Background()
	u := e.freshCustomer()
	var target string
	if mode == connections.ModeUpdate {
		target = e.linked(u.CustomerGUID, "ins_109508").GUID
		e.expire(target)
	}
	fault.Method, fault.PathPrefix = method, prefix
	hard := kind != "slow" // a slow answer still arrives in time
	lostPost := method == http.MethodGet && prefix == "/api/external_bank_accounts"
	if !lostPost {
		e.fault(fault)
	}

	// 1. Ask for a link token.
	ls, err := e.svc.StartLink(ctx, u, mode, target)
	startFails := hard && method == http.MethodPost && (prefix == "/api/workflows" || prefix == "/api/customer_tokens")
	if startFails {
		var ce *connections.Error
		if !errors.As(err, &ce) || ce.Kind != connections.KindUnavailable || !strings.Contains(ce.Message, "try again") {
			t.Fatalf("start during a %s on %s %s: got %v, want a 502 refusal that says to try again", kind, method, prefix, err)
		}
		if got, _ := e.db.LinkSession(ctx, ls.ID); got.State != store.LinkFailed || got.Message == "" {
			t.Fatalf("the refused session: got %s %q, want failed with the message", got.State, got.Message)
		}
		e.clearFaults()
		if ls, err = e.svc.StartLink(ctx, u, mode, target); err != nil {
			t.Fatalf("start after the fault cleared: %v", err)
		}
	} else if err != nil {
		t.Fatalf("start during a %s on %s %s: %v", kind, method, prefix, err)
	}
	if hard && method == http.MethodGet && prefix == "/api/workflows/" {
		// While the platform fails, the session honestly stays "preparing".
		e.eventually("failed polls", func() bool { return e.lossy.count(http.MethodGet, "/api/workflows/"+ls.WorkflowGUID) >= 2 })
		if got, _ := e.svc.LinkSession(ctx, u, ls.ID); got.State != store.LinkPending && kind != "timeout" {
			t.Fatalf("session during failing polls: got %s, want pending", got.State)
		}
		e.clearFaults()
	}
	if ls = e.waitSession(u, ls.ID); ls.State != store.LinkReady || ls.LinkToken == "" {
		t.Fatalf("session: got %s (%s), want ready", ls.State, ls.Message)
	}

	// 2. Finish Link.
	in := connections.Success{PublicToken: "public-sandbox-update", InstitutionID: "ins_109508"}
	if mode == connections.ModeCreate {
		l := e.sandboxLink("ins_109508")
		in = connections.Success{PublicToken: l.PublicToken, InstitutionID: "ins_109508", InstitutionName: "First Platypus Bank",
			Accounts: []connections.SuccessAccount{{ID: l.AccountID, Name: l.AccountName, Mask: l.AccountMask}}}
	}
	if lostPost {
		e.lossy.loseNext(http.MethodPost, "/api/external_bank_accounts")
		e.fault(fault)
	}
	postsBefore := e.lossy.count(http.MethodPost, "/api/external_bank_accounts")
	patchesBefore := e.lossy.count(http.MethodPatch, "/api/external_bank_accounts/"+target)
	res, err := e.svc.Complete(ctx, u, ls.ID, in)
	if err != nil {
		t.Fatalf("complete: %v (a platform fault must never lose the completion)", err)
	}
	queued := (hard && method == http.MethodPost && prefix == "/api/external_bank_accounts") ||
		(kind != "slow" && kind != "timeout" && method == http.MethodPatch) || lostPost
	if queued {
		if res.Status != "finishing" {
			t.Fatalf("complete during a %s: got %+v, want finishing", kind, res)
		}
		q, _ := e.db.QueuedCompletions(ctx, u.CustomerGUID)
		if len(q) != 1 {
			t.Fatalf("queue: got %d completions, want 1 (shown as finishing)", len(q))
		}
		if method == http.MethodPatch {
			// One call: the first try and the client's 3 retries, no more.
			if n := e.lossy.count(http.MethodPatch, "/api/external_bank_accounts/"+target) - patchesBefore; n != 4 {
				t.Fatalf("PATCHes during the fault: got %d, want 4 (bounded retries)", n)
			}
		}
		if lostPost && fault.Count == 0 && fault.Status != 0 {
			// The first retry cannot look for the lost account: it stays queued.
			e.eventually("a retry while the list fails", func() bool {
				e.svc.RetryDue(ctx)
				c, _ := e.db.CompletionForSession(ctx, ls.ID)
				return c.Attempts >= 2 || c.State != store.CompletionQueued
			})
			if c, _ := e.db.CompletionForSession(ctx, ls.ID); c.State != store.CompletionQueued {
				t.Fatalf("completion while the list fails: got %s (%s), want still queued", c.State, c.LastError)
			}
		}
		e.clearFaults()
		e.eventually("the worker finishes it", func() bool {
			e.svc.RetryDue(ctx)
			c, _ := e.db.CompletionForSession(ctx, ls.ID)
			return c.State != store.CompletionQueued
		})
	} else if res.Status != "done" {
		t.Fatalf("complete with a %s on %s %s: got %+v, want done", kind, method, prefix, res)
	}
	e.clearFaults()

	// 3. Exactly one effect, and the customer sees it.
	c, err := e.db.CompletionForSession(ctx, ls.ID)
	if err != nil || c.State != store.CompletionDone || c.PublicToken != "" {
		t.Fatalf("completion: got %s (%s) token %q (%v) after %d attempts, want done with the token erased", c.State, c.LastError, c.PublicToken, err, c.Attempts)
	}
	if c.Attempts > 4 {
		t.Fatalf("attempts: got %d, want a bounded few", c.Attempts)
	}
	list, err := e.bank.ListExternalBankAccounts(ctx, platform.ListAccountsParams{CustomerGUIDs: []string{u.CustomerGUID}, PerPage: 100})
	if err != nil || list.Total != 1 {
		t.Fatalf("the customer's accounts at the platform: got %d (%v), want exactly 1", list.Total, err)
	}
	a := list.Objects[0]
	if mode == connections.ModeUpdate {
		if a.GUID != target || a.State != platform.StateCompleted {
			t.Fatalf("platform account: got %s %s, want %s completed", a.GUID, a.State, target)
		}
	} else {
		if posts := e.lossy.count(http.MethodPost, "/api/external_bank_accounts") - postsBefore; posts > 2 || lostPost && posts != 1 {
			t.Fatalf("POSTs: got %d, want at most one per refused attempt and never a repeat after a lost answer", posts)
		}
	}
	local, err := e.db.Account(ctx, a.GUID)
	if err != nil || local.CustomerGUID != u.CustomerGUID {
		t.Fatalf("local copy: %+v, %v", local, err)
	}
	if mode == connections.ModeUpdate && local.State != store.StateCompleted {
		t.Fatalf("local state: got %s, want completed", local.State)
	}
	if q, _ := e.db.QueuedCompletions(ctx, u.CustomerGUID); len(q) != 0 {
		t.Fatalf("queue afterwards: %d", len(q))
	}
	notes, _ := e.db.ActiveNotifications(ctx, u.CustomerGUID)
	for _, n := range notes {
		if n.Kind == "completion_failed" {
			t.Fatalf("a failure banner after a recovered fault: %q", n.Message)
		}
	}
}

// TestFiftyConcurrentCompletionsOneEffect: the glue, a retrying browser and a
// second tab all post the same onSuccess at once.
func TestFiftyConcurrentCompletionsOneEffect(t *testing.T) {
	eachEnv(t, testFiftyConcurrentCompletionsOneEffect)
}

func testFiftyConcurrentCompletionsOneEffect(t *testing.T, e *env) {
	ctx := context.Background()
	run := func(t *testing.T, u store.User, ls store.LinkSession, in connections.Success) []connections.CompletionResult {
		t.Helper()
		var wg sync.WaitGroup
		results := make([]connections.CompletionResult, 50)
		errs := make([]error, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = e.svc.Complete(ctx, u, ls.ID, in)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("completion %d: %v", i, err)
			}
		}
		e.eventually("the completion is done", func() bool {
			e.svc.RetryDue(ctx)
			c, _ := e.db.CompletionForSession(ctx, ls.ID)
			return c.State == store.CompletionDone
		})
		return results
	}

	t.Run("create", func(t *testing.T) {
		e.t = t
		u := e.freshCustomer()
		ls := e.readySession(u, connections.ModeCreate, "")
		l := e.sandboxLink("ins_109511")
		before := e.lossy.count(http.MethodPost, "/api/external_bank_accounts")
		results := run(t, u, ls, connections.Success{PublicToken: l.PublicToken, InstitutionID: "ins_109511",
			Accounts: []connections.SuccessAccount{{ID: l.AccountID, Name: l.AccountName, Mask: l.AccountMask}}})
		if n := e.lossy.count(http.MethodPost, "/api/external_bank_accounts") - before; n != 1 {
			t.Fatalf("POSTs for 50 concurrent completions: got %d, want 1", n)
		}
		list, _ := e.bank.ListExternalBankAccounts(ctx, platform.ListAccountsParams{CustomerGUIDs: []string{u.CustomerGUID}, PerPage: 100})
		if list.Total != 1 {
			t.Fatalf("accounts at the platform: got %d, want 1", list.Total)
		}
		for i, r := range results {
			if r.Status == "done" && r.AccountGUID != list.Objects[0].GUID {
				t.Fatalf("result %d names %s, want %s", i, r.AccountGUID, list.Objects[0].GUID)
			}
		}
	})

	t.Run("update", func(t *testing.T) {
		e.t = t
		u := e.freshCustomer()
		a := e.linked(u.CustomerGUID, "ins_109508")
		e.expire(a.GUID)
		ls := e.readySession(u, connections.ModeUpdate, a.GUID)
		before := e.lossy.count(http.MethodPatch, "/api/external_bank_accounts/"+a.GUID)
		run(t, u, ls, connections.Success{PublicToken: "public-sandbox-update"})
		if n := e.lossy.count(http.MethodPatch, "/api/external_bank_accounts/"+a.GUID) - before; n != 1 {
			t.Fatalf("PATCHes for 50 concurrent completions: got %d, want 1", n)
		}
		if got := e.local(a.GUID).State; got != store.StateCompleted {
			t.Fatalf("local state: got %s", got)
		}
	})
}

// TestFiftyConcurrentWritersNeverSeeALockedDatabase: Link callbacks through
// the domain, new sessions, banners, syncs and a second handle on the same
// file (an operator's CLI next to the server) all write at once.
func TestFiftyConcurrentWritersNeverSeeALockedDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	first, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	svc := connections.New(slog.New(slog.DiscardHandler), first, nil, connections.Config{})
	alice, err := first.CreateUser(ctx, store.User{Email: "alice@example.com", PasswordHash: "x", Role: store.RoleCustomer, CustomerGUID: strings.Repeat("a", 32)})
	if err != nil {
		t.Fatal(err)
	}
	ls := store.LinkSession{ID: strings.Repeat("1", 32), UserID: alice.ID, CustomerGUID: alice.CustomerGUID, Mode: connections.ModeCreate}
	if err := first.CreateLinkSession(ctx, ls); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	acct := store.Account{GUID: strings.Repeat("b", 32), BankGUID: "bank", CustomerGUID: alice.CustomerGUID, Name: "Checking", Asset: "USD",
		AccountKind: "plaid", Environment: "sandbox", State: store.StateCompleted, CreatedAt: now, UpdatedAt: now}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	writes := 0
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				var err error
				switch (i + j) % 5 {
				case 0:
					_, err = svc.RecordCallback(ctx, alice, ls.ID, connections.LinkCallback{Kind: "event", EventName: "TRANSITION_VIEW", ViewName: fmt.Sprint(i)})
				case 1:
					err = first.CreateSession(ctx, fmt.Sprintf("s-%d-%d", i, j), alice.ID, time.Hour)
				case 2:
					_, err = second.AddNotification(ctx, store.Notification{CustomerGUID: alice.CustomerGUID, Kind: "info", Message: "note"})
				case 3:
					err = second.AddLinkEvent(ctx, store.LinkEvent{LinkSessionID: ls.ID, Kind: "event", EventName: "OPEN"})
				case 4:
					a := acct
					a.State = []string{store.StateCompleted, store.StateRefreshRequired}[j%2]
					_, err = second.UpsertAccounts(ctx, []store.Account{a}, "sync")
				}
				mu.Lock()
				writes++
				if err != nil {
					failures = append(failures, err.Error())
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d writes failed, e.g. %q", len(failures), writes, failures[0])
	}
	events, _ := first.LinkEventsForSession(ctx, ls.ID)
	if len(events) != 200 {
		t.Fatalf("stored callbacks: got %d, want 200", len(events))
	}
}

// TestLostAnswerOutlivesThePublicToken: the POST reached the platform but its
// answer was lost, and the platform stayed unreachable past the public
// token's life. The account exists, so the completion must adopt it, not tell
// the customer it failed.
func TestLostAnswerOutlivesThePublicToken(t *testing.T) {
	eachEnv(t, testLostAnswerOutlivesThePublicToken)
}

func testLostAnswerOutlivesThePublicToken(t *testing.T, e *env) {
	ctx := context.Background()
	u := e.freshCustomer()
	ls := e.readySession(u, connections.ModeCreate, "")
	l := e.sandboxLink("ins_109512")
	e.lossy.loseNext(http.MethodPost, "/api/external_bank_accounts")
	e.fault(simplatform.Fault{Method: http.MethodGet, PathPrefix: "/api/external_bank_accounts", Status: http.StatusServiceUnavailable})
	res, err := e.svc.Complete(ctx, u, ls.ID, connections.Success{PublicToken: l.PublicToken, InstitutionID: "ins_109512",
		Accounts: []connections.SuccessAccount{{ID: l.AccountID, Name: l.AccountName, Mask: l.AccountMask}}})
	if err != nil || res.Status != "finishing" {
		t.Fatalf("lost answer: got %+v, %v; want finishing", res, err)
	}
	later := time.Now().Add(31 * time.Minute)
	e.svc.SetClock(func() time.Time { return later })
	e.db.SetClock(func() time.Time { return later.UTC() })
	e.svc.RetryDue(ctx) // the platform still cannot be asked
	if c, _ := e.db.CompletionForSession(ctx, ls.ID); c.State != store.CompletionQueued {
		t.Fatalf("completion while the platform cannot say what it made: got %s (%s), want queued", c.State, c.LastError)
	}
	e.clearFaults()
	later = later.Add(2 * time.Minute)
	e.svc.RetryDue(ctx)
	c, _ := e.db.CompletionForSession(ctx, ls.ID)
	if c.State != store.CompletionDone || c.AccountGUID == "" {
		t.Fatalf("completion after the platform answered: got %s (%s), want done with the account the lost POST made", c.State, c.LastError)
	}
	if n := e.lossy.count(http.MethodPost, "/api/external_bank_accounts"); n != 1 {
		t.Fatalf("POSTs: got %d, want 1", n)
	}
	if notes, _ := e.db.ActiveNotifications(ctx, u.CustomerGUID); len(notes) != 0 {
		t.Fatalf("banners: got %+v, want none: the account was linked", notes)
	}

	// Without a lost answer, an expired token is still given up honestly.
	ls2 := e.readySession(u, connections.ModeCreate, "")
	l2 := e.sandboxLink("ins_109511")
	e.fault(simplatform.Fault{Method: http.MethodPost, PathPrefix: "/api/external_bank_accounts", Status: http.StatusInternalServerError, Count: 1})
	if res, err := e.svc.Complete(ctx, u, ls2.ID, connections.Success{PublicToken: l2.PublicToken, InstitutionID: "ins_109511",
		Accounts: []connections.SuccessAccount{{ID: l2.AccountID, Name: l2.AccountName, Mask: l2.AccountMask}}}); err != nil || res.Status != "finishing" {
		t.Fatalf("second link: got %+v, %v", res, err)
	}
	later = later.Add(31 * time.Minute)
	e.svc.RetryDue(ctx)
	if c, _ := e.db.CompletionForSession(ctx, ls2.ID); c.State != store.CompletionFailed {
		t.Fatalf("expired completion with nothing made: got %s, want failed", c.State)
	}
	if n := e.lossy.count(http.MethodPost, "/api/external_bank_accounts"); n != 2 {
		t.Fatalf("POSTs: got %d, want 2 (none with an expired token)", n)
	}
}
