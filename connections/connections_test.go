package connections_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/platform"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/store"
)

func TestSyncFollowsThePlatform(t *testing.T) { eachEnv(t, testSyncFollowsThePlatform) }

func testSyncFollowsThePlatform(t *testing.T, e *env) {
	ctx := context.Background()
	a := e.linked(e.alice.CustomerGUID, "ins_109508")
	if got := e.local(a.GUID); got.State != store.StateCompleted || got.CustomerGUID != e.alice.CustomerGUID || got.InstitutionName != "First Platypus Bank" {
		t.Fatalf("after sync: got %+v", got)
	}

	// A state changed at the platform shows locally after one sync, with a banner.
	e.expire(a.GUID)
	if got := e.local(a.GUID).State; got != store.StateRefreshRequired {
		t.Fatalf("state after expiry: got %s, want refresh_required", got)
	}
	banners, _ := e.db.ActiveNotifications(ctx, e.alice.CustomerGUID)
	if len(banners) != 1 || banners[0].AccountGUID != a.GUID || !strings.Contains(banners[0].Message, "reconnect") {
		t.Fatalf("banners: got %+v, want one reconnect banner", banners)
	}
	if bb, _ := e.db.ActiveNotifications(ctx, e.bob.CustomerGUID); len(bb) != 0 {
		t.Fatalf("bob got alice's banner: %+v", bb)
	}
	hist, _ := e.db.StateChanges(ctx, a.GUID)
	if last := hist[len(hist)-1]; last.From != store.StateCompleted || last.To != store.StateRefreshRequired || last.Source != "sync" {
		t.Fatalf("timeline: got %+v", hist)
	}

	// A platform outage keeps the last known data and says so.
	e.fault(simplatform.Fault{Method: "GET", PathPrefix: "/api/external_bank_accounts", Status: 500})
	if err := e.svc.Sync(ctx); err == nil {
		t.Fatal("sync during an outage: got nil error")
	}
	job, _ := e.db.Job(ctx, connections.SyncJob)
	if job.LastError == "" || job.LastOKAt == nil {
		t.Fatalf("job after outage: got %+v, want the error and the last success", job)
	}
	if list, _ := e.db.CustomerAccounts(ctx, e.alice.CustomerGUID); len(list) != 1 {
		t.Fatalf("accounts during outage: got %d, want the last known 1", len(list))
	}
	e.clearFaults()

	// A deleted account stays in the customer's list, as deleted (Disconnected), until hidden.
	if _, err := e.bank.DeleteExternalBankAccount(ctx, a.GUID); err != nil {
		t.Fatal(err)
	}
	e.eventually("deleted locally", func() bool {
		e.sync()
		return e.local(a.GUID).State == store.StateDeleted
	})
	if list, _ := e.db.CustomerAccounts(ctx, e.alice.CustomerGUID); len(list) != 1 || list[0].State != store.StateDeleted || list[0].DisconnectedBy != "sync" {
		t.Fatalf("alice's list after delete: got %+v, want the connection as deleted by the platform", list)
	}
	if job, _ := e.db.Job(ctx, connections.SyncJob); job.LastError != "" {
		t.Fatalf("job after recovery: got error %q", job.LastError)
	}
}

func TestReconnectCompletesAndClearsTheBanner(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.linked(e.alice.CustomerGUID, "ins_109508")
	e.expire(a.GUID)
	ls := e.readySession(e.alice, connections.ModeUpdate, a.GUID)
	res, err := e.svc.Complete(ctx, e.alice, ls.ID, connections.Success{PublicToken: "public-sandbox-update", InstitutionID: "ins_109508"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "done" || res.State != store.StateCompleted || res.AccountGUID != a.GUID {
		t.Fatalf("completion: got %+v, want done and completed", res)
	}
	if got := e.local(a.GUID).State; got != store.StateCompleted {
		t.Fatalf("local state: got %s", got)
	}
	if pa, _ := e.bank.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{}); pa.State != platform.StateCompleted {
		t.Fatalf("platform state: got %s", pa.State)
	}
	if banners, _ := e.db.ActiveNotifications(ctx, e.alice.CustomerGUID); len(banners) != 0 {
		t.Fatalf("banners after reconnecting: got %+v, want none", banners)
	}
}

func TestReconnectIsQueuedWhilePlatformFails(t *testing.T) {
	eachEnv(t, testReconnectIsQueuedWhilePlatformFails)
}

func testReconnectIsQueuedWhilePlatformFails(t *testing.T, e *env) {
	ctx := context.Background()
	a := e.linked(e.alice.CustomerGUID, "ins_109508")
	e.expire(a.GUID)
	ls := e.readySession(e.alice, connections.ModeUpdate, a.GUID)
	e.fault(simplatform.Fault{Method: "PATCH", PathPrefix: "/api/external_bank_accounts", Status: 503})
	res, err := e.svc.Complete(ctx, e.alice, ls.ID, connections.Success{PublicToken: "public-sandbox-update"})
	if err != nil {
		t.Fatalf("complete during an outage must not fail: %v", err)
	}
	if res.Status != "finishing" {
		t.Fatalf("completion during an outage: got %+v, want finishing", res)
	}
	queued, _ := e.db.QueuedCompletions(ctx, e.alice.CustomerGUID)
	if len(queued) != 1 || queued[0].AccountGUID != a.GUID || queued[0].Attempts != 1 {
		t.Fatalf("queue: got %+v", queued)
	}
	// A repeated onSuccess while queued records nothing new.
	again, err := e.svc.Complete(ctx, e.alice, ls.ID, connections.Success{PublicToken: "public-sandbox-update"})
	if err != nil || again.Status != "finishing" {
		t.Fatalf("repeated onSuccess: got %+v, %v", again, err)
	}
	// The customer already signed in to the bank: no second reconnect is asked of them meanwhile.
	var ce *connections.Error
	if _, err := e.svc.StartLink(ctx, e.alice, connections.ModeUpdate, a.GUID); !errors.As(err, &ce) || ce.Kind != connections.KindConflict || !strings.Contains(ce.Message, "still being finished") {
		t.Fatalf("reconnect while the last one is finishing: got %v, want a 409 refusal", err)
	}
	e.clearFaults()
	e.eventually("the worker finishes it", func() bool {
		e.svc.RetryDue(ctx)
		return e.local(a.GUID).State == store.StateCompleted
	})
	if q, _ := e.db.QueuedCompletions(ctx, e.alice.CustomerGUID); len(q) != 0 {
		t.Fatalf("queue after recovery: got %+v", q)
	}
}

func TestLinkNewAccountOnce(t *testing.T) { eachEnv(t, testLinkNewAccountOnce) }

func testLinkNewAccountOnce(t *testing.T, e *env) {
	ctx := context.Background()
	ls := e.readySession(e.alice, connections.ModeCreate, "")
	l, err := e.plaid.SandboxLink("ins_109511", "")
	if err != nil {
		t.Fatal(err)
	}
	in := connections.Success{PublicToken: l.PublicToken, InstitutionID: "ins_109511", InstitutionName: "Tartan Bank",
		Accounts: []connections.SuccessAccount{{ID: l.AccountID, Name: l.AccountName, Mask: l.AccountMask}}}
	first, err := e.svc.Complete(ctx, e.alice, ls.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.svc.Complete(ctx, e.alice, ls.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != "done" || first.AccountGUID == "" || second.AccountGUID != first.AccountGUID {
		t.Fatalf("completions: got %+v then %+v, want one account", first, second)
	}
	if n := e.lossy.count("POST", "/api/external_bank_accounts"); n != 1 {
		t.Fatalf("POSTs to the platform: got %d, want 1", n)
	}
	got := e.local(first.AccountGUID)
	if got.CustomerGUID != e.alice.CustomerGUID || got.InstitutionName != "Tartan Bank" || got.AccountMask != l.AccountMask {
		t.Fatalf("local account: got %+v", got)
	}
	// Pending turns into Connected without waiting for the scheduled sync.
	e.eventually("completed locally", func() bool { return e.local(first.AccountGUID).State == store.StateCompleted })

	// The same account again is a duplicate: refused. It works, so no reconnect is offered.
	ls2 := e.readySession(e.alice, connections.ModeCreate, "")
	l2, _ := e.plaid.SandboxLink("ins_109511", "")
	_, err = e.svc.Complete(ctx, e.alice, ls2.ID, connections.Success{PublicToken: l2.PublicToken, InstitutionID: "ins_109511",
		Accounts: []connections.SuccessAccount{{ID: l2.AccountID, Name: l2.AccountName, Mask: l2.AccountMask}}})
	var ce *connections.Error
	if !errors.As(err, &ce) || ce.Code != "duplicate" || ce.ExistingGUID != "" || ce.Kind != connections.KindConflict {
		t.Fatalf("duplicate of a working connection: got %v (existing %q), want a refusal offering nothing", err, ce.ExistingGUID)
	}
	// Once it expired, the duplicate refusal offers reconnecting the existing one.
	e.expire(first.AccountGUID)
	ls3 := e.readySession(e.alice, connections.ModeCreate, "")
	l3, _ := e.plaid.SandboxLink("ins_109511", "")
	_, err = e.svc.Complete(ctx, e.alice, ls3.ID, connections.Success{PublicToken: l3.PublicToken, InstitutionID: "ins_109511",
		Accounts: []connections.SuccessAccount{{ID: l3.AccountID, Name: l3.AccountName, Mask: l3.AccountMask}}})
	if !errors.As(err, &ce) || ce.Code != "duplicate" || ce.ExistingGUID != first.AccountGUID {
		t.Fatalf("duplicate of an expired connection: got %v, want a refusal naming %s", err, first.AccountGUID)
	}
	if n := e.lossy.count("POST", "/api/external_bank_accounts"); n != 1 {
		t.Fatalf("POSTs after the duplicate: got %d, want still 1", n)
	}
}

func TestMoreThanOneAccountIsRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ls := e.readySession(e.alice, connections.ModeCreate, "")
	_, err := e.svc.Complete(ctx, e.alice, ls.ID, connections.Success{PublicToken: "public-sandbox-x", InstitutionID: "ins_109508",
		Accounts: []connections.SuccessAccount{{ID: "a1", Name: "Checking", Mask: "0000"}, {ID: "a2", Name: "Saving", Mask: "1111"}}})
	var ce *connections.Error
	if !errors.As(err, &ce) || ce.Code != "multiple_accounts" || !strings.Contains(ce.Message, "one account") {
		t.Fatalf("two accounts: got %v", err)
	}
	if _, err := e.db.CompletionForSession(ctx, ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused completion was stored: %v", err)
	}
	if n := e.lossy.count("POST", "/api/external_bank_accounts"); n != 0 {
		t.Fatalf("POSTs: got %d, want 0", n)
	}
}

func TestLostAnswerIsNotPostedTwice(t *testing.T) { eachEnv(t, testLostAnswerIsNotPostedTwice) }

func testLostAnswerIsNotPostedTwice(t *testing.T, e *env) {
	ctx := context.Background()
	ls := e.readySession(e.alice, connections.ModeCreate, "")
	l, _ := e.plaid.SandboxLink("ins_109509", "")
	e.lossy.loseNext("POST", "/api/external_bank_accounts")
	res, err := e.svc.Complete(ctx, e.alice, ls.ID, connections.Success{PublicToken: l.PublicToken, InstitutionID: "ins_109509",
		Accounts: []connections.SuccessAccount{{ID: l.AccountID, Name: l.AccountName, Mask: l.AccountMask}}})
	if err != nil || res.Status != "finishing" {
		t.Fatalf("lost answer: got %+v, %v; want finishing", res, err)
	}
	e.eventually("the worker adopts the account the first POST made", func() bool {
		e.svc.RetryDue(ctx)
		c, _ := e.db.CompletionForSession(ctx, ls.ID)
		return c.State == store.CompletionDone
	})
	if n := e.lossy.count("POST", "/api/external_bank_accounts"); n != 1 {
		t.Fatalf("POSTs: got %d, want 1 (never blindly retried)", n)
	}
	list, err := e.bank.ListExternalBankAccounts(ctx, platform.ListAccountsParams{CustomerGUIDs: []string{e.alice.CustomerGUID}, PerPage: 100})
	if err != nil || list.Total != 1 {
		t.Fatalf("alice's accounts at the platform: got %d, %v; want exactly 1", list.Total, err)
	}
}

func TestExpiredPublicTokenAsksToLinkAgain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ls := e.readySession(e.alice, connections.ModeCreate, "")
	l, _ := e.plaid.SandboxLink("ins_109512", "")
	e.fault(simplatform.Fault{Method: "POST", PathPrefix: "/api/external_bank_accounts", Status: 500})
	res, err := e.svc.Complete(ctx, e.alice, ls.ID, connections.Success{PublicToken: l.PublicToken, InstitutionID: "ins_109512",
		Accounts: []connections.SuccessAccount{{ID: l.AccountID, Name: l.AccountName, Mask: l.AccountMask}}})
	if err != nil || res.Status != "finishing" {
		t.Fatalf("got %+v, %v", res, err)
	}
	later := time.Now().Add(31 * time.Minute)
	e.svc.SetClock(func() time.Time { return later })
	e.db.SetClock(func() time.Time { return later.UTC() })
	e.svc.RetryDue(ctx)
	c, _ := e.db.CompletionForSession(ctx, ls.ID)
	if c.State != store.CompletionFailed || c.PublicToken != "" {
		t.Fatalf("completion after 31 minutes: got state %s token %q, want failed and the token erased", c.State, c.PublicToken)
	}
	banners, _ := e.db.ActiveNotifications(ctx, e.alice.CustomerGUID)
	if len(banners) != 1 || !strings.Contains(banners[0].Message, "link it again") {
		t.Fatalf("banner: got %+v", banners)
	}
}

func TestOnlyTheOwnerMayLinkOrComplete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.linked(e.alice.CustomerGUID, "ins_109508")
	e.expire(a.GUID)
	if _, err := e.svc.StartLink(ctx, e.bob, connections.ModeUpdate, a.GUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob reconnecting alice's account: got %v, want ErrNotFound", err)
	}
	if _, err := e.svc.StartLink(ctx, e.admin, connections.ModeUpdate, a.GUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("admin reconnecting a customer's account: got %v, want ErrNotFound", err)
	}
	ls := e.readySession(e.alice, connections.ModeUpdate, a.GUID)
	if _, err := e.svc.LinkSession(ctx, e.bob, ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob reading alice's link session: got %v", err)
	}
	if _, err := e.svc.Complete(ctx, e.bob, ls.ID, connections.Success{PublicToken: "public-sandbox-x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob completing alice's link session: got %v", err)
	}
	if _, err := e.svc.RecordCallback(ctx, e.bob, ls.ID, connections.LinkCallback{Kind: "exit"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob posting to alice's link session: got %v", err)
	}
	if got := e.local(a.GUID).State; got != store.StateRefreshRequired {
		t.Fatalf("alice's account changed: %s", got)
	}
	if _, err := e.svc.StartLink(ctx, e.alice, connections.ModeUpdate, e.linked(e.alice.CustomerGUID, "ins_109509").GUID); err == nil {
		t.Fatal("reconnecting a connection that is not expired: got nil error")
	}
}

func TestExitMessages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.linked(e.alice.CustomerGUID, "ins_109508")
	e.expire(a.GUID)

	ls := e.readySession(e.alice, connections.ModeUpdate, a.GUID)
	got, err := e.svc.RecordCallback(ctx, e.alice, ls.ID, connections.LinkCallback{Kind: "exit", ExitStatus: "requires_credentials"})
	if err != nil || got.Message != "" {
		t.Fatalf("plain exit: got %q, %v; want no message", got.Message, err)
	}

	ls = e.readySession(e.alice, connections.ModeUpdate, a.GUID)
	for _, cb := range []connections.LinkCallback{{Kind: "event", EventName: "OPEN"}, {Kind: "event", EventName: "SUBMIT_CREDENTIALS"}, {Kind: "exit"}} {
		if got, err = e.svc.RecordCallback(ctx, e.alice, ls.ID, cb); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(got.Message, "still needs a refresh") {
		t.Fatalf("exit after credentials: got %q", got.Message)
	}
	if e.local(a.GUID).State != store.StateRefreshRequired {
		t.Fatal("an exit changed the connection")
	}
	events, _ := e.db.LinkEventsForSession(ctx, ls.ID)
	if len(events) != 3 || events[1].EventName != "SUBMIT_CREDENTIALS" || events[2].Kind != "exit" || events[0].AccountGUID != a.GUID {
		t.Fatalf("stored callbacks: got %+v", events)
	}
}

func TestPageViewsSyncStaleDataInTheBackground(t *testing.T) {
	eachEnv(t, testPageViewsSyncStaleDataInTheBackground)
}

func testPageViewsSyncStaleDataInTheBackground(t *testing.T, e *env) {
	ctx := context.Background()
	a := e.linked(e.alice.CustomerGUID, "ins_109508") // syncs once
	if _, err := e.bank.PatchExternalBankAccount(ctx, a.GUID, platform.PatchAccountRequest{State: platform.StateRefreshRequired}); err != nil {
		t.Fatal(err)
	}
	// Fresh data: a page view does not call the platform.
	if e.svc.SyncIfStale(ctx) {
		t.Fatal("a page view with fresh data started a sync")
	}
	// Stale data (the interval has passed): the page view starts a sync and returns at once.
	later := time.Now().Add(2 * time.Hour)
	e.svc.SetClock(func() time.Time { return later })
	if !e.svc.SyncIfStale(ctx) {
		t.Fatal("a page view with stale data did not start a sync")
	}
	e.eventually("a background sync", func() bool { return e.local(a.GUID).State == store.StateRefreshRequired })
}

func TestPendingLinkStartsAndCallbacksAreBounded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// The platform holds every link token back: starts stay pending.
	e.fault(simplatform.Fault{Method: "GET", PathPrefix: "/api/workflows", LatencyMS: 20000})
	var ls store.LinkSession
	var err error
	for i := 0; i < 20; i++ {
		if ls, err = e.svc.StartLink(ctx, e.alice, connections.ModeCreate, ""); err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
	}
	_, err = e.svc.StartLink(ctx, e.alice, connections.ModeCreate, "")
	var ce *connections.Error
	if !errors.As(err, &ce) || ce.Kind != connections.KindTooMany {
		t.Fatalf("21st start with 20 pending: got %v, want 429", err)
	}
	if _, err := e.svc.StartLink(ctx, e.bob, connections.ModeCreate, ""); err != nil {
		t.Fatalf("bob is not limited by alice: %v", err)
	}
	for i := 0; i < store.MaxLinkEvents+50; i++ {
		if _, err := e.svc.RecordCallback(ctx, e.alice, ls.ID, connections.LinkCallback{Kind: "event", EventName: "TRANSITION_VIEW"}); err != nil {
			t.Fatal(err)
		}
	}
	if events, _ := e.db.LinkEventsForSession(ctx, ls.ID); len(events) != store.MaxLinkEvents {
		t.Fatalf("stored callbacks: got %d, want the bound %d", len(events), store.MaxLinkEvents)
	}
}
