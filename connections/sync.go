package connections

import (
	"context"
	"errors"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/store"
)

// SyncJob names the sync in job_status.
const SyncJob = "sync"

// localAccount converts the platform's account to the local copy.
func localAccount(a platform.ExternalBankAccount) store.Account {
	l := store.Account{
		GUID: a.GUID, BankGUID: a.BankGUID, Name: a.Name, Asset: a.Asset, AccountKind: a.AccountKind,
		Environment: a.Environment, InstitutionID: a.PlaidInstitutionID,
		AccountMask: a.PlaidAccountMask, State: a.State, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		BalanceUpdatedAt: a.BalanceUpdatedAt,
	}
	if a.CustomerGUID != nil {
		l.CustomerGUID = *a.CustomerGUID
	}
	if a.PlaidAccountName != nil {
		l.AccountName = *a.PlaidAccountName
	}
	if a.FailureCode != nil {
		l.FailureCode = *a.FailureCode
	}
	if a.Balances != nil {
		l.BalanceAvailable, l.BalanceCurrent = a.Balances.Available, a.Balances.Current
	} else {
		l.BalanceUpdatedAt = nil // no balances in this answer: keep the ones we have
	}
	return l
}

// Sync walks every account of the bank, page by page, saves what changed,
// marks accounts the platform no longer lists as deleted, and raises
// notifications for connections that now need a refresh. A failure keeps
// the last known data and is recorded for an honest "last updated".
func (s *Service) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	start := time.Now()
	walkStart := s.now()
	seen := map[string]bool{}
	var changes []store.Transition
	// The next page is fetched while the last one is written: the platform's
	// answer and SQLite's work overlap instead of taking turns.
	batches := make(chan []store.Account, 1)
	written := make(chan error, 1)
	writeFailed := make(chan struct{})
	go func() {
		var werr error
		for b := range batches {
			if werr != nil {
				continue // drain what was sent before the walk noticed
			}
			var c []store.Transition
			c, werr = s.db.UpsertAccounts(ctx, b, "sync")
			changes = append(changes, c...)
			if werr != nil {
				close(writeFailed)
			}
		}
		written <- werr
	}()
	batch := make([]store.Account, 0, 100)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		select {
		case batches <- batch:
		case <-writeFailed:
			return errors.New("saving a page of accounts failed")
		case <-ctx.Done():
			return ctx.Err()
		}
		batch = make([]store.Account, 0, 100)
		return nil
	}
	err := s.bank.EachExternalBankAccount(ctx, platform.ListAccountsParams{BankGUIDs: []string{s.cfg.BankGUID}}, func(a platform.ExternalBankAccount) error {
		seen[a.GUID] = true
		batch = append(batch, localAccount(a))
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	close(batches)
	if werr := <-written; werr != nil {
		err = werr // the real cause, rather than the walk's stop
	}
	if err == nil {
		var gone []string
		gone, err = s.db.AccountGUIDsNotIn(ctx, seen, walkStart)
		if err == nil && len(gone) > 0 {
			var c []store.Transition
			c, err = s.db.MarkAccountsDeleted(ctx, gone, "sync")
			changes = append(changes, c...)
		}
	}
	if err == nil {
		s.nameInstitutions(ctx) // before notify, so banners and emails name the bank
	}
	if nerr := s.notify(ctx, changes); err == nil {
		err = nerr
	}
	errText := ""
	if err != nil {
		errText = "the platform could not be reached"
		s.log.Warn("sync failed", "err", err, "duration_ms", time.Since(start).Milliseconds())
	} else {
		s.log.Debug("sync done", "accounts", len(seen), "changes", len(changes), "duration_ms", time.Since(start).Milliseconds())
	}
	if rerr := s.db.RecordJob(context.WithoutCancel(ctx), SyncJob, errText); rerr != nil {
		s.log.Error("record sync", "err", rerr) // callers in the background do not log what Sync returns
		if err == nil {
			err = rerr
		}
	}
	return err
}

// notify raises a banner for each customer connection that moved into
// refresh_required. Banners whose reason no longer holds are dismissed by the
// store in the same transaction that records the change.
func (s *Service) notify(ctx context.Context, changes []store.Transition) error {
	for _, c := range changes {
		if c.To != store.StateRefreshRequired || c.CustomerGUID == "" {
			continue
		}
		a, err := s.db.Account(ctx, c.AccountGUID)
		if err != nil {
			return err
		}
		if err := s.notifyRefreshRequired(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) notifyRefreshRequired(ctx context.Context, a store.Account) error {
	_, err := s.db.AddNotification(ctx, store.Notification{
		CustomerGUID: a.CustomerGUID, AccountGUID: a.GUID, Kind: rules.BannerRefreshRequired,
		Message: rules.RefreshRequiredBanner(a.InstitutionName), ReasonState: rules.ReasonState(rules.BannerRefreshRequired, true),
	})
	if err != nil {
		return err
	}
	subject, body := refreshRequiredEmail(a, s.cfg.PortalURL)
	_, err = s.emailCustomer(ctx, a.CustomerGUID, a.GUID, subject, body)
	return err
}

func displayInstitution(a store.Account) string { return rules.Institution(a.InstitutionName) }

// SyncIfStale starts a background sync when the last attempt is older than
// the freshness bound, and reports whether it did. It never waits on the platform.
func (s *Service) SyncIfStale(ctx context.Context) bool {
	job, err := s.db.Job(ctx, SyncJob)
	if err != nil {
		return false
	}
	if job.LastTryAt != nil && s.now().Sub(*job.LastTryAt) < s.cfg.StaleAfter {
		return false
	}
	return s.syncInBackground()
}

// syncInBackground starts one sync unless one is already running here, or
// another instance holds the sync lease.
func (s *Service) syncInBackground() bool {
	s.mu.Lock()
	if s.syncRunning != nil {
		s.mu.Unlock()
		return false
	}
	done := make(chan struct{})
	s.syncRunning = done
	s.mu.Unlock()
	s.spawn(func(ctx context.Context) {
		defer func() {
			s.mu.Lock()
			s.syncRunning = nil
			s.mu.Unlock()
			close(done)
		}()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		s.SyncIfLeased(ctx)
	})
	return true
}

func (s *Service) runSync(ctx context.Context) {
	// A restart soon after a sync (a deploy, a crash) waits for the rest of the
	// interval instead of walking every account of the bank again at once.
	if job, err := s.db.Job(ctx, SyncJob); err == nil && job.LastTryAt != nil {
		if wait := s.cfg.SyncInterval - s.now().Sub(*job.LastTryAt); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	s.SyncIfLeased(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.SyncIfLeased(ctx)
		}
	}
}
