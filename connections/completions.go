package connections

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/store"
)

// retryDelay is the backoff after the n-th attempt: 1 s doubling to a minute, with jitter.
func retryDelay(attempts int) time.Duration {
	d := time.Second << min(attempts, 6)
	d = min(d, time.Minute)
	return d/2 + rand.N(d/2+1)
}

// attempt makes the platform call of one queued completion, once, right
// after Link's onSuccess recorded it (the worker claims in batches: work).
// Every outcome is written down: done, failed for good, or queued for a retry.
func (s *Service) attempt(ctx context.Context, c store.Completion) {
	if s.expiredForGood(ctx, c) {
		return
	}
	// Claim first: a crash during the call leaves the completion due again
	// once the lease ends, and no other worker calls in the meantime.
	ok, err := s.db.ClaimCompletion(context.WithoutCancel(ctx), c.ID, s.now().Add(workLease), c.Mode == ModeCreate)
	if err != nil || !ok {
		return
	}
	s.work(ctx, c)
}

const expiredText = "the bank's authorization expired before the platform could use it."

// expiredForGood gives up on a create whose public token expired, unless an
// earlier POST may have reached the platform and the account must be looked
// for first; it reports whether it gave up.
func (s *Service) expiredForGood(ctx context.Context, c store.Completion) bool {
	expired := c.Mode == ModeCreate && c.ExpiresAt != nil && s.now().After(*c.ExpiresAt)
	if expired && (!c.OutcomeUnknown || c.Attempts >= maxLookups) {
		s.giveUp(context.WithoutCancel(ctx), c, expiredText)
		return true
	}
	return false
}

// work makes the platform call of a completion this instance has claimed (c
// as it was before the claim).
func (s *Service) work(ctx context.Context, c store.Completion) {
	bg := context.WithoutCancel(ctx)
	expired := c.Mode == ModeCreate && c.ExpiresAt != nil && s.now().After(*c.ExpiresAt)
	var err error
	client := s.clientFor(c.CustomerGUID)
	var acct platform.ExternalBankAccount
	switch c.Mode {
	case ModeUpdate:
		acct, err = client.PatchExternalBankAccount(ctx, c.AccountGUID, platform.PatchAccountRequest{State: platform.StateCompleted})
		if err == nil {
			acct = s.confirmReconnect(ctx, client, acct)
		}
	case ModeCreate:
		// A POST is never blindly repeated: if an earlier attempt may have
		// reached the platform, look for the account it made first.
		found := false
		if c.OutcomeUnknown {
			acct, found, err = s.findCreated(ctx, client, c)
		}
		if err == nil && !found && expired {
			s.giveUp(bg, c, expiredText)
			return
		}
		if err == nil && !found {
			acct, err = client.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{
				Name: accountTitle(c), AccountKind: platform.AccountKindPlaid, Asset: "USD", CustomerGUID: c.CustomerGUID,
				PlaidPublicToken: c.PublicToken, PlaidAccountID: c.PlaidAccountID,
			})
		}
	}
	if err == nil {
		local := localAccount(acct)
		if local.InstitutionName == "" {
			local.InstitutionName = c.InstitutionName
		}
		changes, ferr := s.db.FinishCompletion(bg, c.ID, local)
		if ferr != nil {
			s.log.Error("finish completion", "completion", c.ID, "err", ferr)
			return
		}
		if err := s.notify(bg, changes); err != nil {
			s.log.Error("notify after completion", "completion", c.ID, "err", err)
		}
		if acct.State == platform.StateStoring {
			s.spawn(func(ctx context.Context) { s.followUp(ctx, c.CustomerGUID, acct.GUID) })
		}
		s.log.Info("link completion done", "completion", c.ID, "mode", c.Mode, "account", acct.GUID, "state", acct.State, "attempt", c.Attempts+1)
		return
	}
	if temporary(err) {
		next := s.now().Add(retryDelay(c.Attempts))
		s.log.Warn("link completion will be retried", "completion", c.ID, "mode", c.Mode, "attempt", c.Attempts+1, "err", err, "next", next)
		if rerr := s.db.RetryCompletion(bg, c.ID, next, "the banking platform did not answer"); rerr != nil {
			s.log.Error("schedule completion retry", "completion", c.ID, "err", rerr)
		}
		return
	}
	s.log.Warn("link completion refused", "completion", c.ID, "mode", c.Mode, "err", err)
	s.giveUp(bg, c, refusalText(err))
}

// confirmWithin bounds the check after a reconnect's PATCH.
const confirmWithin = 8 * time.Second

// confirmReconnect checks a reconnect with the bank after the PATCH: the
// browser saying Link succeeded is no proof that the bank login works again.
// A balance refresh pulls data through the bank; if the login is still
// broken the platform answers 422 and moves the account back to
// refresh_required, and the account as read back then is what the customer
// sees. When the check cannot finish in time, the PATCH's answer stands and
// the next sync shows any change.
func (s *Service) confirmReconnect(ctx context.Context, client *platform.Client, acct platform.ExternalBankAccount) platform.ExternalBankAccount {
	if acct.State != platform.StateCompleted && acct.State != platform.StateUnverified {
		return acct
	}
	ctx, cancel := context.WithTimeout(ctx, confirmWithin)
	defer cancel()
	fresh, err := client.GetExternalBankAccount(ctx, acct.GUID, platform.GetAccountOptions{ForceBalanceRefresh: true})
	if err == nil {
		return fresh
	}
	var pe *platform.Error
	if !errors.As(err, &pe) || pe.Status != 422 {
		s.log.Warn("reconnect not confirmed with the bank", "account", acct.GUID, "err", err)
		return acct
	}
	back, err := client.GetExternalBankAccount(ctx, acct.GUID, platform.GetAccountOptions{})
	if err != nil {
		s.log.Warn("reconnect refused by the bank, account not read back", "account", acct.GUID, "err", err)
		return acct
	}
	s.log.Info("reconnect refused by the bank", "account", acct.GUID, "state", back.State)
	return back
}

func temporary(err error) bool {
	return platform.IsTemporary(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

func refusalText(err error) string {
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Status == 404 {
		return "the connection no longer exists."
	}
	return "the banking platform refused it."
}

func accountTitle(c store.Completion) string {
	if c.AccountName != "" {
		return c.AccountName
	}
	return "Bank account " + c.AccountMask
}

// maxLookups bounds the attempts of a create whose token expired while the
// outcome of its POST is unknown: the platform is asked this many times in all.
const maxLookups = 20

// errStopWalk ends a walk over the platform's accounts early.
var errStopWalk = errors.New("stop walking")

// findCreated looks for the account an earlier, unanswered POST may have made.
// The platform lists newest first, so the walk stops at the first account
// older than the completion (less a margin for clock skew).
func (s *Service) findCreated(ctx context.Context, client *platform.Client, c store.Completion) (platform.ExternalBankAccount, bool, error) {
	var found platform.ExternalBankAccount
	ok := false
	p := platform.ListAccountsParams{}
	if c.CustomerGUID != "" {
		p.CustomerGUIDs = []string{c.CustomerGUID}
	}
	// Generous on clock skew between portal and platform: a duplicate of a live
	// connection is refused before any POST, so an older match cannot be mistaken.
	cut := c.CreatedAt.Add(-time.Hour)
	err := client.EachExternalBankAccount(ctx, p, func(a platform.ExternalBankAccount) error {
		if a.CreatedAt.Before(cut) {
			return errStopWalk
		}
		if a.State == platform.StateDeleted {
			return nil
		}
		if (c.CustomerGUID == "") != (a.CustomerGUID == nil) {
			return nil
		}
		name := ""
		if a.PlaidAccountName != nil {
			name = *a.PlaidAccountName
		}
		if a.PlaidInstitutionID == c.InstitutionID && a.PlaidAccountMask == c.AccountMask && (name == c.AccountName || a.Name == accountTitle(c)) {
			found, ok = a, true
			return errStopWalk
		}
		return nil
	})
	if errors.Is(err, errStopWalk) {
		err = nil
	}
	return found, ok, err
}

// giveUp marks a completion failed and tells the customer what to do.
func (s *Service) giveUp(ctx context.Context, c store.Completion, why string) {
	if err := s.db.FailCompletion(ctx, c.ID, why); err != nil {
		s.log.Error("fail completion", "completion", c.ID, "err", err)
		return
	}
	if c.CustomerGUID == "" {
		return
	}
	if _, err := s.db.AddNotification(ctx, store.Notification{CustomerGUID: c.CustomerGUID, AccountGUID: c.AccountGUID, Kind: rules.BannerCompletionFailed,
		Message:     rules.CompletionFailedBanner(c.Mode == ModeUpdate, accountTitle(c), why),
		ReasonState: rules.ReasonState(rules.BannerCompletionFailed, c.AccountGUID != "")}); err != nil {
		s.log.Error("notify failed completion", "completion", c.ID, "err", err)
	}
}

// runCompletions retries queued completions until ctx ends.
func (s *Service) runCompletions(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		s.RetryDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// RetryDue makes one attempt at every completion that is due and not held
// by another instance, and reports how many it tried. Due completions are
// claimed a batch at a time and the batch is worked at once, so each attempt
// ends inside its lease.
func (s *Service) RetryDue(ctx context.Context) int {
	tried := 0
	for ctx.Err() == nil {
		due, err := s.db.ClaimDueCompletions(ctx, claimBatch, s.now().Add(workLease))
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("claim due completions", "err", err)
			}
			break
		}
		var wg sync.WaitGroup
		for _, c := range due {
			wg.Go(func() {
				actx, cancel := context.WithTimeout(ctx, attemptTimeout)
				defer cancel()
				if s.expiredForGood(actx, c) {
					return
				}
				if c.Mode == ModeCreate && !c.OutcomeUnknown {
					// From here on the platform may make the account even if no answer comes back.
					if err := s.db.MarkCompletionOutcomeUnknown(context.WithoutCancel(actx), c.ID); err != nil {
						s.log.Error("mark completion sent", "completion", c.ID, "err", err)
						return // due again when the lease ends
					}
				}
				s.work(actx, c)
			})
		}
		wg.Wait()
		tried += len(due)
		if len(due) < claimBatch {
			break
		}
	}
	return tried
}

// followUp watches a new account until the platform has stored it, so the
// customer sees Pending turn into Connected without waiting for the next sync.
func (s *Service) followUp(ctx context.Context, customerGUID, guid string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client := s.clientFor(customerGUID)
	delay := 500 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		a, err := client.GetExternalBankAccount(ctx, guid, platform.GetAccountOptions{})
		if err == nil {
			changes, err := s.db.UpsertAccounts(ctx, []store.Account{localAccount(a)}, "sync")
			if err == nil {
				err = s.notify(ctx, changes)
			}
			if err != nil && ctx.Err() == nil {
				s.log.Error("store followed-up account", "account", guid, "err", err)
			}
			if a.State != platform.StateStoring {
				return
			}
		}
		delay = min(delay*2, 5*time.Second)
	}
}
