package connections

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/store"
)

// Remind sends the customer of an expired connection a reminder: a banner
// and an email. It returns the audit entry of the action.
func (a *Admin) Remind(ctx context.Context, admin store.User, guid string) (int64, error) {
	acct, err := a.db.Account(ctx, guid)
	if err != nil {
		return 0, err
	}
	if err := a.allowed(acct, rules.Remind); err != nil {
		return 0, err
	}
	if _, err := a.db.AddNotification(ctx, store.Notification{CustomerGUID: acct.CustomerGUID, AccountGUID: acct.GUID, Kind: rules.BannerReminder,
		Message: rules.ReminderBanner(acct.InstitutionName), ReasonState: rules.ReasonState(rules.BannerReminder, true)}); err != nil {
		return 0, err
	}
	subject, body := refreshRequiredEmail(acct, a.portalURL)
	to, err := a.s.emailCustomer(ctx, acct.CustomerGUID, acct.GUID, "Reminder: "+subject, body)
	if err != nil {
		return 0, err
	}
	detail := "Banner shown to the customer and an email queued to " + to + "."
	if to == "" {
		detail = "Banner shown to the customer; no email: the customer has no portal login."
	}
	return a.audit(ctx, admin, "remind", acct.GUID, store.AuditOK, detail, "")
}

// Disconnect removes a connection on the platform; the connection becomes
// obsolete (it can only be linked anew). A refusal or failure is audited and
// emailed to every admin with the details.
func (a *Admin) Disconnect(ctx context.Context, admin store.User, guid string) (int64, error) {
	acct, err := a.db.Account(ctx, guid)
	if err != nil {
		return 0, err
	}
	return a.disconnect(ctx, admin, acct, "disconnect", "", "")
}

func (a *Admin) disconnect(ctx context.Context, admin store.User, acct store.Account, action, ref, why string) (int64, error) {
	if err := a.allowed(acct, rules.Disconnect); err != nil {
		return 0, err
	}
	answer, err := a.s.removeConnection(ctx, a.bank, acct, "admin")
	bg := context.WithoutCancel(ctx)
	var pe *platform.Error
	if err != nil && !errors.As(err, &pe) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return 0, err // the platform answered, but saving its answer failed
	}
	if err != nil {
		detail := "The platform did not disconnect it: " + platformDetail(err) + "."
		a.log.Warn("admin disconnect failed", "account", acct.GUID, "err", err)
		subject := "Disconnect failed: " + describe(acct)
		body := fmt.Sprintf("%s asked to disconnect %s (connection %s)%s, and it did not work.\n\nError: %s\n\n"+
			"The connection is still active on the platform. Check it on the admin tab and try again. If the bank connection "+
			"(the Plaid item) cannot be removed, contact Plaid Support to remove the item.\n", admin.Email, describe(acct), acct.GUID, why, platformDetail(err))
		n, merr := a.s.emailAdmins(bg, acct.GUID, subject, body)
		if merr != nil {
			return 0, merr
		}
		detail += fmt.Sprintf(" The details were emailed to %d admin(s).", n)
		return a.audit(ctx, admin, action, acct.GUID, store.AuditFailed, detail, ref)
	}
	a.jobs.Add(1)
	a.s.spawn(func(ctx context.Context) { defer a.jobs.Done(); a.s.followRemoval(ctx, acct.GUID) })
	detail := "The platform is removing the connection (" + answer.State + "). It is obsolete: it can only be linked again as new."
	if action == "deactivate" {
		detail = "Not selected when the bank login was updated in Link. " + detail
	}
	return a.audit(ctx, admin, action, acct.GUID, store.AuditOK, detail, ref)
}

// StartRefresh starts an on-demand refresh of balances and transactions in
// the background and returns at once; the detail page shows its progress.
func (a *Admin) StartRefresh(ctx context.Context, admin store.User, guid string) (int64, error) {
	acct, err := a.db.Account(ctx, guid)
	if err != nil {
		return 0, err
	}
	if err := a.allowed(acct, rules.Refresh); err != nil {
		return 0, err
	}
	job, err := a.db.CreateRefreshJob(ctx, guid, admin.ID, a.s.holder, a.s.now().Add(refreshLease))
	if errors.Is(err, store.ErrConflict) {
		return 0, Refuse(KindConflict, "refresh_running", "A refresh of this connection is already running.")
	}
	if err != nil {
		return 0, err
	}
	id, err := a.audit(ctx, admin, "refresh", guid, store.AuditStarted, "Asked the bank for fresh balances and transactions.", "")
	if err != nil {
		return 0, err
	}
	a.jobs.Add(1)
	a.s.spawn(func(ctx context.Context) { defer a.jobs.Done(); a.runRefresh(ctx, job, admin) })
	return id, nil
}

// runRefresh runs under the service's lifetime: shutdown cancels the call,
// and the outcome is still written (before the database closes: Run waits).
func (a *Admin) runRefresh(ctx context.Context, job store.RefreshJob, admin store.User) {
	stopped := ctx
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RefreshTimeout)
	defer cancel()
	start := time.Now()
	// The job is this instance's while it renews the lease; the renewal ends
	// with the call, and the outcome is written just after.
	rctx, stopRenew := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() { defer close(renewed); a.s.renewRefresh(rctx, job.ID) }()
	answer, err := a.slow.GetExternalBankAccount(ctx, job.AccountGUID, platform.GetAccountOptions{IncludeBalances: true, ForceBalanceRefresh: true})
	stopRenew()
	<-renewed
	bg := context.WithoutCancel(ctx)
	state, msg := store.RefreshSucceeded, ""
	var pe *platform.Error
	switch {
	case err == nil:
		local := localAccount(answer)
		changes, uerr := a.db.UpsertAccounts(bg, []store.Account{local}, "refresh")
		if uerr != nil {
			state, msg = store.RefreshFailed, "The balances arrived but could not be saved. Try again."
			break
		}
		if nerr := a.s.notify(bg, changes); nerr != nil {
			a.log.Error("notify after refresh", "account", job.AccountGUID, "err", nerr)
		}
		msg = "Balances refreshed: available " + rules.Money(local.BalanceAvailable) + ", current " + rules.Money(local.BalanceCurrent) + "."
	case stopped.Err() != nil:
		state, msg = store.RefreshFailed, "The portal stopped while this refresh was running. Start it again."
	case platform.IsRefreshRequired(err):
		state, msg = store.RefreshFailed, "The bank login has expired: the connection now needs a refresh (refresh_required)."
		if a.resync(bg, job.AccountGUID) {
			msg += " The customer was notified."
		}
	case errors.As(err, &pe) && pe.Status == http.StatusUnprocessableEntity && strings.Contains(pe.ErrorMessage, "PRODUCTS_NOT_SUPPORTED"):
		state, msg = store.RefreshFailed, "This bank does not support an on-demand refresh for this account (PRODUCTS_NOT_SUPPORTED): its data updates on the bank's own schedule."
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &pe) && (pe.Status == 0 || pe.Status == http.StatusRequestTimeout || pe.Status == http.StatusGatewayTimeout)):
		state, msg = store.RefreshFailed, fmt.Sprintf("The bank did not answer within %s. Nothing changed; try again later.", a.cfg.RefreshTimeout.Round(time.Second))
	case platform.IsNotFound(err):
		state, msg = store.RefreshFailed, "The platform no longer has this connection."
		if _, derr := a.db.MarkAccountsDeleted(bg, []string{job.AccountGUID}, "refresh"); derr != nil {
			a.log.Error("mark refreshed connection deleted", "account", job.AccountGUID, "err", derr)
		}
	case errors.As(err, &pe) && pe.Status == http.StatusUnprocessableEntity:
		state, msg = store.RefreshFailed, "The platform refused the refresh: "+pe.ErrorMessage+"."
		a.resync(bg, job.AccountGUID) // a connection that can no longer be used is deleted by the platform
	default:
		state, msg = store.RefreshFailed, "The refresh did not work: "+platformDetail(err)+". Try again later."
	}
	if ferr := a.db.FinishRefreshJob(bg, job.ID, state, msg); ferr != nil {
		a.log.Error("finish refresh job", "job", job.ID, "err", ferr)
	}
	result := store.AuditOK
	if state == store.RefreshFailed {
		result = store.AuditFailed
	}
	if _, aerr := a.audit(bg, admin, "refresh", job.AccountGUID, result, msg, ""); aerr != nil {
		a.log.Error("audit refresh", "account", job.AccountGUID, "err", aerr)
	}
	a.log.Info("on-demand refresh finished", "account", job.AccountGUID, "state", state, "duration_ms", time.Since(start).Milliseconds(), "err", err)
}

// resync reads a connection's state from the platform after a refusal and
// notifies the customer when it became refresh_required; it reports whether a customer was notified.
func (a *Admin) resync(ctx context.Context, guid string) bool {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	answer, err := a.bank.GetExternalBankAccount(cctx, guid, platform.GetAccountOptions{})
	if err != nil {
		a.log.Warn("resync after refresh", "account", guid, "err", err)
		return false
	}
	changes, err := a.db.UpsertAccounts(ctx, []store.Account{localAccount(answer)}, "refresh")
	if err != nil {
		a.log.Error("store connection after refresh", "account", guid, "err", err)
		return false
	}
	if err := a.s.notify(ctx, changes); err != nil {
		a.log.Error("notify after refresh", "account", guid, "err", err)
	}
	for _, c := range changes {
		if c.To == store.StateRefreshRequired && c.CustomerGUID != "" {
			return true
		}
	}
	return false
}

// ForceRefreshRequired expires a connection on purpose (at a sandbox bank
// only, in live mode too: the platform's PATCH does it there), to
// demonstrate the reconnect flow; the customer is notified as for a real expiry.
func (a *Admin) ForceRefreshRequired(ctx context.Context, admin store.User, guid string) (int64, error) {
	acct, err := a.db.Account(ctx, guid)
	if err != nil {
		return 0, err
	}
	if !SandboxBank(acct) {
		return 0, store.ErrNotFound // never offered for a production bank
	}
	if err := a.allowed(acct, rules.ForceRefreshRequired); err != nil {
		return 0, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	answer, err := a.bank.PatchExternalBankAccount(cctx, guid, platform.PatchAccountRequest{State: platform.StateRefreshRequired})
	if err != nil {
		return a.audit(ctx, admin, "force_refresh_required", guid, store.AuditFailed, "The platform did not expire it: "+platformDetail(err)+".", "")
	}
	bg := context.WithoutCancel(ctx)
	changes, err := a.db.UpsertAccounts(bg, []store.Account{localAccount(answer)}, "admin")
	if err != nil {
		return 0, err
	}
	if err := a.s.notify(bg, changes); err != nil {
		return 0, err
	}
	detail := "The connection is now refresh_required."
	if acct.CustomerGUID != "" && len(changes) > 0 {
		detail += " The customer was notified (banner and email)."
	}
	return a.audit(ctx, admin, "force_refresh_required", guid, store.AuditOK, detail, "")
}
