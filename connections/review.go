package connections

import (
	"context"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/store"
)

// UnselectedReview is what a customer is asked after an update in Link left
// the connection's own account unselected.
type UnselectedReview struct {
	SessionID string
	Account   store.Account
	// Disconnected: the customer already confirmed (or the connection is gone anyway).
	Disconnected bool
}

// customerReviewSession returns a customer's own update whose account was left unselected.
func (s *Service) customerReviewSession(ctx context.Context, u store.User, id string) (store.Completion, store.Account, error) {
	if u.IsAdmin() || u.CustomerGUID == "" {
		return store.Completion{}, store.Account{}, store.ErrNotFound
	}
	ls, err := s.db.UserLinkSession(ctx, u.ID, id)
	if err != nil {
		return store.Completion{}, store.Account{}, err
	}
	c, err := s.db.CompletionForSession(ctx, ls.ID)
	if err != nil {
		return c, store.Account{}, err
	}
	if c.Mode != ModeUpdate || !c.Unselected {
		return c, store.Account{}, store.ErrNotFound
	}
	a, err := s.db.CustomerAccount(ctx, u.CustomerGUID, c.AccountGUID)
	return c, a, err
}

// UnselectedReview shows a customer's update that left their account unselected.
func (s *Service) UnselectedReview(ctx context.Context, u store.User, id string) (UnselectedReview, error) {
	_, a, err := s.customerReviewSession(ctx, u, id)
	if err != nil {
		return UnselectedReview{}, err
	}
	return UnselectedReview{SessionID: id, Account: a, Disconnected: rules.Obsolete(a.State)}, nil
}

// DisconnectUnselected disconnects the customer's connection that they left
// unselected in Link, once they confirmed. Nothing else is touched.
func (s *Service) DisconnectUnselected(ctx context.Context, u store.User, id string) error {
	_, a, err := s.customerReviewSession(ctx, u, id)
	if err != nil {
		return err
	}
	if rules.Obsolete(a.State) {
		return nil // already done: a second confirmation changes nothing
	}
	if _, err := s.removeConnection(ctx, s.clientFor(u.CustomerGUID), a, "customer"); err != nil {
		s.log.Warn("customer disconnect failed", "account", a.GUID, "err", err)
		return Refuse(KindUnavailable, "platform_unavailable", "We could not reach the banking platform to disconnect it. Nothing changed; try again in a moment.")
	}
	s.spawn(func(ctx context.Context) { s.followRemoval(ctx, a.GUID) })
	_, err = s.db.AddAudit(context.WithoutCancel(ctx), store.AuditEntry{ActorUserID: u.ID, ActorEmail: u.Email, Action: "deactivate",
		AccountGUID: a.GUID, Result: store.AuditOK, Ref: id,
		Detail: "The customer left the account unselected when updating the bank login in Link, and confirmed disconnecting it."})
	return err
}

// HideConnection takes one of the customer's disconnected connections off their list.
func (s *Service) HideConnection(ctx context.Context, u store.User, guid string) error {
	a, err := s.db.CustomerAccount(ctx, u.CustomerGUID, guid)
	if err != nil {
		return err
	}
	if !rules.CustomerAllows(rules.CustomerSubject{State: a.State}, rules.Hide) {
		return Refuse(KindConflict, "not_disconnected", rules.Refusal(rules.Hide, a.State, false))
	}
	return s.db.HideAccount(ctx, u.CustomerGUID, guid)
}

// removeConnection asks the platform to remove a connection and saves its
// answer; source names who asked (admin, customer) in the state history.
func (s *Service) removeConnection(ctx context.Context, client *platform.Client, acct store.Account, source string) (platform.ExternalBankAccount, error) {
	// The person closing the tab must not cut the DELETE short and leave its outcome unknown.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	answer, err := client.DeleteExternalBankAccount(cctx, acct.GUID)
	if err != nil {
		return answer, err
	}
	_, err = s.db.UpsertAccounts(context.WithoutCancel(ctx), []store.Account{localAccount(answer)}, source)
	return answer, err
}

// followRemoval watches a disconnected connection until the platform reports it deleted.
func (s *Service) followRemoval(ctx context.Context, guid string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	delay := 300 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		acct, err := s.bank.GetExternalBankAccount(ctx, guid, platform.GetAccountOptions{})
		if platform.IsNotFound(err) {
			if _, err := s.db.MarkAccountsDeleted(ctx, []string{guid}, "sync"); err != nil && ctx.Err() == nil {
				s.log.Error("mark removed connection deleted", "account", guid, "err", err)
			}
			return
		}
		if err == nil {
			if _, err := s.db.UpsertAccounts(ctx, []store.Account{localAccount(acct)}, "sync"); err != nil && ctx.Err() == nil {
				s.log.Error("store removed connection", "account", guid, "err", err)
			}
			if acct.State == rules.Deleted {
				return
			}
		}
		delay = min(delay*2, 5*time.Second)
	}
}
