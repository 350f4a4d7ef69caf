package connections_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/store"
)

// Two portal instances on one database: 24 customers finish Link at once,
// each onSuccess reaching both instances; while the platform refuses, the
// completions queue, and both workers then race to send them. Every
// completion makes exactly one account at the platform.
func TestTwoInstancesCompleteEachOnce(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		db2, svc2 := e.instance()
		const n = 24
		type link struct {
			u  store.User
			ls store.LinkSession
			in connections.Success
		}
		links := make([]link, n)
		for i := range links {
			u := e.freshCustomer()
			ls := e.readySession(u, connections.ModeCreate, "")
			l := e.sandboxLink("ins_109511")
			links[i] = link{u, ls, connections.Success{PublicToken: l.PublicToken, InstitutionID: "ins_109511",
				Accounts: []connections.SuccessAccount{{ID: l.AccountID, Name: l.AccountName, Mask: l.AccountMask}}}}
		}
		// The platform refuses the first creates: those completions are queued.
		e.fault(simplatform.Fault{Method: http.MethodPost, PathPrefix: "/api/external_bank_accounts", Status: 503, Count: n / 2})
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for _, l := range links {
			for _, svc := range []*connections.Service{e.svc, svc2} {
				wg.Go(func() {
					if _, err := svc.Complete(ctx, l.u, l.ls.ID, l.in); err != nil {
						errs <- fmt.Errorf("complete %s: %w", l.ls.ID, err)
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		e.clearFaults()
		// Both workers race for whatever is queued. On a loaded machine an
		// attempt can time out and back off for many seconds: a long deadline.
		testutil.Eventually(t, 2*time.Minute, func() error {
			var wg sync.WaitGroup
			wg.Go(func() { e.svc.RetryDue(ctx) })
			wg.Go(func() { svc2.RetryDue(ctx) })
			wg.Wait()
			for _, l := range links {
				if c, err := db2.CompletionForSession(ctx, l.ls.ID); err != nil || c.State != store.CompletionDone {
					return fmt.Errorf("completion of %s: %s after %d attempts (%v)", l.u.Email, c.State, c.Attempts, err)
				}
			}
			return nil
		})
		for _, l := range links {
			list, err := e.bank.ListExternalBankAccounts(ctx, platform.ListAccountsParams{CustomerGUIDs: []string{l.u.CustomerGUID}, PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			if list.Total != 1 {
				t.Errorf("customer %s: %d accounts at the platform, want 1", l.u.Email, list.Total)
			}
		}
	})
}

// An instance claims queued completions and dies before it calls the
// platform; the other instance leaves them alone while the lease runs, then
// finishes each exactly once.
func TestCompletionOfADeadInstanceIsTakenOver(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		deadDB, _ := e.instance()
		liveDB, live := e.instance()
		us := make([]store.User, 3)
		sessions := make([]store.LinkSession, 3)
		e.fault(simplatform.Fault{Method: http.MethodPost, PathPrefix: "/api/external_bank_accounts", Status: 503})
		for i := range us {
			us[i] = e.freshCustomer()
			sessions[i] = e.readySession(us[i], connections.ModeCreate, "")
			l := e.sandboxLink("ins_109511")
			res, err := e.svc.Complete(ctx, us[i], sessions[i].ID, connections.Success{PublicToken: l.PublicToken, InstitutionID: "ins_109511",
				Accounts: []connections.SuccessAccount{{ID: l.AccountID, Name: l.AccountName, Mask: l.AccountMask}}})
			if err != nil || res.Status != "finishing" {
				t.Fatalf("complete during an outage: got %+v, %v; want finishing", res, err)
			}
		}
		e.clearFaults()
		// The dead instance's claim: as its worker's, then it never works them.
		now := time.Now()
		deadDB.SetClock(func() time.Time { return now.Add(2 * time.Minute) }) // past the retry backoff
		claimed, err := deadDB.ClaimDueCompletions(ctx, 10, now.Add(3*time.Minute))
		if err != nil || len(claimed) != len(us) {
			t.Fatalf("the dead instance's claim: got %d, %v; want %d", len(claimed), err, len(us))
		}
		posts := e.lossy.count(http.MethodPost, "/api/external_bank_accounts")
		live.SetClock(func() time.Time { return now.Add(150 * time.Second) })
		liveDB.SetClock(func() time.Time { return now.Add(150 * time.Second) })
		if got := live.RetryDue(ctx); got != 0 {
			t.Fatalf("completions taken while the dead instance's lease runs: got %d, want 0", got)
		}
		// The lease has run out: the live instance takes them over.
		later := now.Add(3*time.Minute + time.Second)
		live.SetClock(func() time.Time { return later })
		liveDB.SetClock(func() time.Time { return later })
		if got := live.RetryDue(ctx); got != len(us) {
			t.Fatalf("completions taken over: got %d, want %d", got, len(us))
		}
		for i, u := range us {
			c, err := e.db.CompletionForSession(ctx, sessions[i].ID)
			if err != nil || c.State != store.CompletionDone {
				t.Fatalf("completion of %s: got %+v, %v; want done", u.Email, c, err)
			}
			list, _ := e.bank.ListExternalBankAccounts(ctx, platform.ListAccountsParams{CustomerGUIDs: []string{u.CustomerGUID}, PerPage: 100})
			if list.Total != 1 {
				t.Errorf("customer %s: %d accounts at the platform, want 1", u.Email, list.Total)
			}
		}
		// The dead instance may have sent nothing; each completion was POSTed once more, and only once.
		if got := e.lossy.count(http.MethodPost, "/api/external_bank_accounts") - posts; got != len(us) {
			t.Errorf("POSTs by the live instance: got %d, want %d", got, len(us))
		}
	})
}

// Three instances on a schedule walk the platform once per interval between
// them, whoever gets there first; an instance whose turn it is not skips.
func TestSyncRunsOnOneInstancePerInterval(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.linked(e.alice.CustomerGUID, "ins_109508")
		type instance struct {
			db  *store.DB
			svc *connections.Service
		}
		var all []instance
		for range 3 {
			db, svc := e.instance()
			all = append(all, instance{db, svc})
		}
		at := func(t time.Time) {
			for _, in := range all {
				in.db.SetClock(func() time.Time { return t })
				in.svc.SetClock(func() time.Time { return t })
			}
		}
		walks := func() int { return e.lossy.count(http.MethodGet, "/api/external_bank_accounts") }
		// tick has the instances try their scheduled sync at once, and returns those that synced.
		tick := func(ins []instance) []instance {
			var mu sync.Mutex
			var synced []instance
			var wg sync.WaitGroup
			for _, in := range ins {
				wg.Go(func() {
					if in.svc.SyncIfLeased(ctx) {
						mu.Lock()
						synced = append(synced, in)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			return synced
		}
		others := func(holder instance) (out []instance) {
			for _, in := range all {
				if in != holder {
					out = append(out, in)
				}
			}
			return out
		}
		start := time.Now()
		interval := e.svcCfg.SyncInterval
		check := func(what string, ins []instance, want int) []instance {
			t.Helper()
			before := walks()
			synced := tick(ins)
			if len(synced) != want || walks()-before != want {
				t.Fatalf("%s: %d instances synced with %d walks of the platform, want %d", what, len(synced), walks()-before, want)
			}
			return synced
		}
		at(start)
		holder := check("the first interval, all three", all, 1)[0]
		at(start.Add(interval / 2))
		check("the same interval, the other two", others(holder), 0)
		for i := 1; i <= 2; i++ {
			at(start.Add(time.Duration(i)*interval + time.Second))
			holder = check(fmt.Sprintf("interval %d, all three", i+1), all, 1)[0]
			check(fmt.Sprintf("interval %d again, the other two", i+1), others(holder), 0)
		}
	})
}

// An instance that stops gives its sync lease up: another one takes over at
// its next tick instead of waiting for the lease to run out.
func TestStoppedInstanceGivesUpTheSyncLease(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, stopping := e.instance()
		_, other := e.instance()
		if !stopping.SyncIfLeased(ctx) {
			t.Fatal("the first instance did not get the sync lease")
		}
		if other.SyncIfLeased(ctx) {
			t.Fatal("the other instance synced while the first holds the lease")
		}
		stopped, stop := context.WithCancel(ctx)
		stop()
		stopping.Run(stopped)
		if !other.SyncIfLeased(ctx) {
			t.Fatal("the other instance did not get the lease the stopped one gave up")
		}
	})
}

// A running instance looks for refreshes of stopped instances on its own,
// again and again, not only when it starts.
func TestRunningInstanceEndsRefreshesOfStoppedOnes(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.svcCfg.LeaseCheckEvery = 50 * time.Millisecond
	db, svc := e.instance()
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for i, guid := range []string{"first", "second"} {
		// A refresh whose instance stopped a moment ago, after the service started.
		if _, err := db.CreateRefreshJob(ctx, guid, e.admin.ID, "stopped-instance", time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		e.eventually(fmt.Sprintf("refresh %d ended", i+1), func() bool {
			j, err := db.LatestRefreshJob(ctx, guid)
			return err == nil && j.State == store.RefreshFailed
		})
	}
}

// A refresh whose instance died (it never finishes, its lease is not renewed)
// is ended by another instance once the lease has run out, so the admin can
// start it again; a refresh another live instance is running is left alone.
func TestRefreshOfADeadInstanceIsEnded(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		w := newWorldOn(t, engine, time.Minute)
		ctx := context.Background()
		dead := w.link(w.alice.CustomerGUID, "dead-instance")
		alive := w.link(w.alice.CustomerGUID, "live-instance")
		now := time.Now()
		if _, err := w.db.CreateRefreshJob(ctx, dead, w.boss.ID, "dead-instance", now.Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.CreateRefreshJob(ctx, alive, w.boss.ID, "live-instance", now.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.admin.StartRefresh(ctx, w.boss, dead); err == nil {
			t.Fatal("a second refresh while one runs was accepted")
		}
		if n, err := w.svc.EndInterruptedRefreshes(ctx); err != nil || n != 0 {
			t.Fatalf("refreshes ended while their leases run: got %d, %v; want 0", n, err)
		}
		w.db.SetClock(func() time.Time { return now.Add(time.Minute) })
		if n, err := w.svc.EndInterruptedRefreshes(ctx); err != nil || n != 1 {
			t.Fatalf("refreshes ended after the dead instance's lease ran out: got %d, %v; want 1", n, err)
		}
		if j, _ := w.db.LatestRefreshJob(ctx, dead); j.State != store.RefreshFailed || j.Message == "" {
			t.Fatalf("the dead instance's refresh: got %+v, want failed with a message", j)
		}
		if j, _ := w.db.LatestRefreshJob(ctx, alive); j.State != store.RefreshRunning {
			t.Fatalf("the live instance's refresh: got %+v, want still running", j)
		}
		w.db.SetClock(time.Now)
		if _, err := w.admin.StartRefresh(ctx, w.boss, dead); err != nil {
			t.Fatalf("refresh again after the dead instance's was ended: %v", err)
		}
		w.admin.Wait()
		if j, _ := w.db.LatestRefreshJob(ctx, dead); j.State != store.RefreshSucceeded {
			t.Fatalf("the new refresh: got %+v, want succeeded", j)
		}
	})
}
