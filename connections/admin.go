package connections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/store"
)

// Admin is the admin side of the domain: the bank-connections tab over every
// connection, the actions on one (reminder, disconnect, on-demand refresh,
// sandbox expiry), the review after an update of the organization's own
// connections, and the outbox.
type Admin struct {
	s    *Service
	slow *platform.Client // for calls that may take minutes: no retries, no per-attempt timeout
	cfg  AdminConfig
	jobs sync.WaitGroup
}

// AdminConfig tunes the admin side.
type AdminConfig struct {
	// RefreshTimeout bounds an on-demand refresh (default 2 minutes).
	RefreshTimeout time.Duration
	// SMTPEnabled tells the outbox page whether mail is being sent.
	SMTPEnabled bool
}

// NewAdmin builds the admin side. slow is a bank client for the on-demand
// refresh (its answer can take 30 s and more, and it must not be retried
// blindly); nil uses the service's bank client.
func NewAdmin(s *Service, slow *platform.Client, cfg AdminConfig) *Admin {
	if slow == nil {
		slow = s.bank
	}
	if cfg.RefreshTimeout <= 0 {
		cfg.RefreshTimeout = 2 * time.Minute
	}
	return &Admin{s: s, slow: slow, cfg: cfg}
}

// Sandbox reports whether sandbox-only actions are available.
func (a *Admin) Sandbox() bool { return a.s.cfg.Sandbox }

// SMTPEnabled reports whether the outbox is being sent.
func (a *Admin) SMTPEnabled() bool { return a.cfg.SMTPEnabled }

// Wait blocks until background jobs started by the admin side end (tests, shutdown).
func (a *Admin) Wait() { a.jobs.Wait() }

// Recover ends refresh jobs a stopped process left running.
func (a *Admin) Recover(ctx context.Context) error {
	return a.s.db.FailInterruptedRefreshJobs(ctx, "The portal restarted while this refresh was running. Start it again.")
}

// Institution is a bank the portal knows by name.
type Institution struct{ ID, Name string }

// Institutions lists the known institutions by name, for the filter.
func (a *Admin) Institutions() []Institution {
	out := make([]Institution, 0, len(institutionNames))
	for id, name := range institutionNames {
		out = append(out, Institution{ID: id, Name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AdminQuery is the admin tab's filter as typed into the page.
type AdminQuery struct {
	State       string
	Institution string // institution id
	Customer    string // a customer's email or guid
	BankLevel   bool
	Cursor      string
}

// AdminList is one page of the admin tab.
type AdminList struct {
	Rows           []store.Account
	CustomerEmails map[string]string
	Counts         map[string]int
	Next           string // cursor of the next page; empty at the end
	Note           string // e.g. an email that matches no customer
}

// PageSize is the admin tab's page size.
const PageSize = 50

func validInstitution(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, ch := range s {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}

func validStateFilter(s string) bool {
	if s == "" {
		return true
	}
	for _, st := range store.States {
		if st == s {
			return true
		}
	}
	return false
}

// Connections returns one page of every connection, with the counts per state.
func (a *Admin) Connections(ctx context.Context, q AdminQuery) (AdminList, error) {
	var out AdminList
	if !validStateFilter(q.State) {
		return out, refuse(http.StatusBadRequest, "bad_state", "Unknown state in the filter.")
	}
	q.Institution = strings.TrimSpace(q.Institution)
	if !validInstitution(q.Institution) {
		return out, refuse(http.StatusBadRequest, "bad_institution", "An institution id looks like ins_109508.")
	}
	f := store.AdminFilter{State: q.State, InstitutionID: q.Institution, BankLevel: q.BankLevel}
	var after *store.Cursor
	if q.Cursor != "" {
		c, err := store.ParseCursor(q.Cursor)
		if err != nil {
			return out, refuse(http.StatusBadRequest, "bad_cursor", "That page link is not valid. Go back to the first page of the list and page from there.")
		}
		after = &c
	}
	counts, err := a.s.db.StateCounts(ctx)
	if err != nil {
		return out, err
	}
	out.Counts = counts
	if cust := strings.TrimSpace(q.Customer); cust != "" {
		switch {
		case strings.Contains(cust, "@"):
			u, err := a.s.db.UserByEmail(ctx, cust)
			if errors.Is(err, store.ErrNotFound) || (err == nil && u.CustomerGUID == "") {
				out.Note = "No customer signs in with " + cust + "."
				return out, nil
			}
			if err != nil {
				return out, err
			}
			f.CustomerGUID = u.CustomerGUID
		case store.ValidGUID(strings.ToLower(cust)):
			f.CustomerGUID = strings.ToLower(cust)
		default:
			return out, refuse(http.StatusBadRequest, "bad_customer", "Enter a customer's email address or their 32-character customer id.")
		}
	}
	rows, next, err := a.s.db.AdminPage(ctx, f, after, PageSize)
	if err != nil {
		return out, err
	}
	out.Rows = rows
	if next != nil {
		out.Next = next.String()
	}
	var guids []string
	seen := map[string]bool{}
	for _, r := range rows {
		if r.CustomerGUID != "" && !seen[r.CustomerGUID] {
			seen[r.CustomerGUID] = true
			guids = append(guids, r.CustomerGUID)
		}
	}
	out.CustomerEmails, err = a.s.db.CustomerEmails(ctx, guids)
	return out, err
}

// TimelineEntry is one thing that happened to a connection.
type TimelineEntry struct {
	At     time.Time
	Kind   string // state, link, action, notification, email
	Title  string
	Detail string
	Result string // for actions: ok, failed, started, refused
}

// ConnectionDetail is everything the admin detail page shows.
type ConnectionDetail struct {
	Account       store.Account
	CustomerEmail string
	Timeline      []TimelineEntry // newest first
	Refresh       *store.RefreshJob
	Flash         *store.AuditEntry // the action just taken, when asked for
}

// Connection returns a connection with its merged timeline. flash names an
// audit entry of this connection to show as the outcome of the last action.
func (a *Admin) Connection(ctx context.Context, guid string, flash int64) (ConnectionDetail, error) {
	var d ConnectionDetail
	acct, err := a.s.db.Account(ctx, guid)
	if err != nil {
		return d, err
	}
	d.Account = acct
	if acct.CustomerGUID != "" {
		if u, err := a.s.db.UserByCustomerGUID(ctx, acct.CustomerGUID); err == nil {
			d.CustomerEmail = u.Email
		}
	}
	changes, err := a.s.db.StateChanges(ctx, guid)
	if err != nil {
		return d, err
	}
	for _, c := range changes {
		title := "State: " + c.To
		if c.From != "" {
			title = "State: " + c.From + " → " + c.To
		}
		d.Timeline = append(d.Timeline, TimelineEntry{At: c.At, Kind: "state", Title: title, Detail: "observed by " + c.Source})
	}
	events, err := a.s.db.LinkEventsForAccount(ctx, guid)
	if err != nil {
		return d, err
	}
	for _, e := range events {
		title := "Link " + e.Kind
		if e.EventName != "" {
			title += ": " + e.EventName
		}
		var parts []string
		for _, p := range []struct{ k, v string }{{"view", e.ViewName}, {"error", e.ErrorCode}, {"exit status", e.ExitStatus}, {"institution", e.InstitutionID}} {
			if p.v != "" {
				parts = append(parts, p.k+" "+p.v)
			}
		}
		d.Timeline = append(d.Timeline, TimelineEntry{At: e.At, Kind: "link", Title: title, Detail: strings.Join(parts, ", ")})
	}
	audits, err := a.s.db.AuditForAccount(ctx, guid)
	if err != nil {
		return d, err
	}
	for _, e := range audits {
		d.Timeline = append(d.Timeline, TimelineEntry{At: e.At, Kind: "action", Title: actionTitle(e.Action) + " by " + e.ActorEmail,
			Detail: e.Detail, Result: e.Result})
		if flash != 0 && e.ID == flash {
			f := e
			d.Flash = &f
		}
	}
	notes, err := a.s.db.AccountNotifications(ctx, guid)
	if err != nil {
		return d, err
	}
	for _, n := range notes {
		d.Timeline = append(d.Timeline, TimelineEntry{At: n.CreatedAt, Kind: "notification", Title: "Banner to the customer (" + n.Kind + ")", Detail: n.Message})
	}
	mails, err := a.s.db.EmailsForAccount(ctx, guid)
	if err != nil {
		return d, err
	}
	for _, m := range mails {
		d.Timeline = append(d.Timeline, TimelineEntry{At: m.CreatedAt, Kind: "email", Title: "Email to " + m.To + ": " + m.Subject, Detail: "outbox: " + m.State})
	}
	sort.SliceStable(d.Timeline, func(i, j int) bool { return d.Timeline[i].At.After(d.Timeline[j].At) })
	if j, err := a.s.db.LatestRefreshJob(ctx, guid); err == nil {
		d.Refresh = &j
	} else if !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	return d, nil
}

var actionTitles = map[string]string{
	"remind":                 "Reconnect reminder",
	"disconnect":             "Disconnect",
	"deactivate":             "Deactivated (not selected in Link)",
	"refresh":                "On-demand refresh",
	"force_refresh_required": "Forced refresh required (sandbox)",
	"review":                 "Account review after a Link update",
}

func actionTitle(a string) string {
	if t, ok := actionTitles[a]; ok {
		return t
	}
	return a
}

func (a *Admin) audit(ctx context.Context, admin store.User, action, guid, result, detail, ref string) (int64, error) {
	return a.s.db.AddAudit(context.WithoutCancel(ctx), store.AuditEntry{ActorUserID: admin.ID, ActorEmail: admin.Email, Action: action,
		AccountGUID: guid, Result: result, Detail: detail, Ref: ref})
}

func describe(acct store.Account) string {
	name := acct.AccountName
	if name == "" {
		name = acct.Name
	}
	s := displayInstitution(acct) + " " + name
	if acct.AccountMask != "" {
		s += " •••• " + acct.AccountMask
	}
	return s
}

// platformDetail describes a platform failure for admins (never shown to customers).
func platformDetail(err error) string {
	var pe *platform.Error
	switch {
	case errors.As(err, &pe) && pe.Status == 0:
		return "the platform did not answer (" + pe.MessageCode + ")"
	case errors.As(err, &pe):
		return fmt.Sprintf("the platform answered %d %s: %s (%s)", pe.Status, http.StatusText(pe.Status), pe.ErrorMessage, pe.MessageCode)
	case errors.Is(err, context.DeadlineExceeded):
		return "the platform did not answer in time"
	default:
		return "the platform could not be reached"
	}
}

// Remind sends the customer of an expired connection a reminder: a banner
// and an email. It returns the audit entry of the action.
func (a *Admin) Remind(ctx context.Context, admin store.User, guid string) (int64, error) {
	acct, err := a.s.db.Account(ctx, guid)
	if err != nil {
		return 0, err
	}
	if acct.CustomerGUID == "" {
		return 0, refuse(http.StatusConflict, "bank_level", "This is one of the organization's own connections: there is no customer to remind. Reconnect it yourself.")
	}
	if acct.State != store.StateRefreshRequired {
		return 0, refuse(http.StatusConflict, "not_expired", "Only a connection that needs a refresh can get a reconnect reminder.")
	}
	if _, err := a.s.db.AddNotification(ctx, store.Notification{CustomerGUID: acct.CustomerGUID, AccountGUID: acct.GUID, Kind: "reminder",
		Message: fmt.Sprintf("Reminder from your bank: your connection to %s has expired. Reconnect it to keep using the account.", displayInstitution(acct))}); err != nil {
		return 0, err
	}
	subject, body := refreshRequiredEmail(acct, a.s.cfg.PortalURL)
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
	acct, err := a.s.db.Account(ctx, guid)
	if err != nil {
		return 0, err
	}
	return a.disconnect(ctx, admin, acct, "disconnect", "", "")
}

func (a *Admin) disconnect(ctx context.Context, admin store.User, acct store.Account, action, ref, why string) (int64, error) {
	if acct.State == store.StateDeleted || acct.State == store.StateDeleting {
		return 0, refuse(http.StatusConflict, "obsolete", "This connection is already disconnected.")
	}
	// The admin closing the tab must not cut the DELETE short and leave its outcome unknown.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	answer, err := a.s.bank.DeleteExternalBankAccount(cctx, acct.GUID)
	bg := context.WithoutCancel(ctx)
	if err != nil {
		detail := "The platform did not disconnect it: " + platformDetail(err) + "."
		a.s.log.Warn("admin disconnect failed", "account", acct.GUID, "err", err)
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
	if _, err := a.s.db.UpsertAccounts(bg, []store.Account{localAccount(answer)}, "admin"); err != nil {
		return 0, err
	}
	a.jobs.Add(1)
	go func() { defer a.jobs.Done(); a.followRemoval(acct.GUID) }()
	detail := "The platform is removing the connection (" + answer.State + "). It is obsolete: it can only be linked again as new."
	if action == "deactivate" {
		detail = "Not selected when the bank login was updated in Link. " + detail
	}
	return a.audit(ctx, admin, action, acct.GUID, store.AuditOK, detail, ref)
}

// followRemoval watches a disconnected connection until the platform reports it deleted.
func (a *Admin) followRemoval(guid string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	delay := 300 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		acct, err := a.s.bank.GetExternalBankAccount(ctx, guid, platform.GetAccountOptions{})
		if platform.IsNotFound(err) {
			a.s.db.MarkAccountsDeleted(ctx, []string{guid}, "sync")
			return
		}
		if err == nil {
			a.s.db.UpsertAccounts(ctx, []store.Account{localAccount(acct)}, "sync")
			if acct.State == platform.StateDeleted {
				return
			}
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// StartRefresh starts an on-demand refresh of balances and transactions in
// the background and returns at once; the detail page shows its progress.
func (a *Admin) StartRefresh(ctx context.Context, admin store.User, guid string) (int64, error) {
	acct, err := a.s.db.Account(ctx, guid)
	if err != nil {
		return 0, err
	}
	switch acct.State {
	case store.StateCompleted, store.StateUnverified, store.StateRefreshRequired:
	case store.StateDeleted, store.StateDeleting:
		return 0, refuse(http.StatusConflict, "obsolete", "This connection was disconnected: there is nothing to refresh.")
	default:
		return 0, refuse(http.StatusConflict, "not_refreshable", "A connection that is "+acct.State+" cannot be refreshed.")
	}
	job, err := a.s.db.CreateRefreshJob(ctx, guid, admin.ID)
	if errors.Is(err, store.ErrConflict) {
		return 0, refuse(http.StatusConflict, "refresh_running", "A refresh of this connection is already running.")
	}
	if err != nil {
		return 0, err
	}
	id, err := a.audit(ctx, admin, "refresh", guid, store.AuditStarted, "Asked the bank for fresh balances and transactions.", "")
	if err != nil {
		return 0, err
	}
	a.jobs.Add(1)
	go func() { defer a.jobs.Done(); a.runRefresh(job, admin) }()
	return id, nil
}

func (a *Admin) runRefresh(job store.RefreshJob, admin store.User) {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.RefreshTimeout)
	defer cancel()
	start := time.Now()
	answer, err := a.slow.GetExternalBankAccount(ctx, job.AccountGUID, platform.GetAccountOptions{IncludeBalances: true, ForceBalanceRefresh: true})
	bg := context.Background()
	state, msg := store.RefreshSucceeded, ""
	var pe *platform.Error
	switch {
	case err == nil:
		local := localAccount(answer)
		changes, uerr := a.s.db.UpsertAccounts(bg, []store.Account{local}, "refresh")
		if uerr != nil {
			state, msg = store.RefreshFailed, "The balances arrived but could not be saved. Try again."
			break
		}
		a.s.notify(bg, changes)
		msg = "Balances refreshed: available " + money(local.BalanceAvailable) + ", current " + money(local.BalanceCurrent) + "."
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
		a.s.db.MarkAccountsDeleted(bg, []string{job.AccountGUID}, "refresh")
	case errors.As(err, &pe) && pe.Status == http.StatusUnprocessableEntity:
		state, msg = store.RefreshFailed, "The platform refused the refresh: "+pe.ErrorMessage+"."
		a.resync(bg, job.AccountGUID) // a connection that can no longer be used is deleted by the platform
	default:
		state, msg = store.RefreshFailed, "The refresh did not work: "+platformDetail(err)+". Try again later."
	}
	if ferr := a.s.db.FinishRefreshJob(bg, job.ID, state, msg); ferr != nil {
		a.s.log.Error("finish refresh job", "job", job.ID, "err", ferr)
	}
	result := store.AuditOK
	if state == store.RefreshFailed {
		result = store.AuditFailed
	}
	a.audit(bg, admin, "refresh", job.AccountGUID, result, msg, "")
	a.s.log.Info("on-demand refresh finished", "account", job.AccountGUID, "state", state, "duration_ms", time.Since(start).Milliseconds(), "err", err)
}

// resync reads a connection's state from the platform after a refusal and
// notifies the customer when it became refresh_required; it reports whether a customer was notified.
func (a *Admin) resync(ctx context.Context, guid string) bool {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	answer, err := a.s.bank.GetExternalBankAccount(cctx, guid, platform.GetAccountOptions{})
	if err != nil {
		a.s.log.Warn("resync after refresh", "account", guid, "err", err)
		return false
	}
	changes, err := a.s.db.UpsertAccounts(ctx, []store.Account{localAccount(answer)}, "refresh")
	if err != nil {
		return false
	}
	a.s.notify(ctx, changes)
	for _, c := range changes {
		if c.To == store.StateRefreshRequired && c.CustomerGUID != "" {
			return true
		}
	}
	return false
}

func money(cents *int64) string {
	if cents == nil {
		return "unknown"
	}
	c := *cents
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s$%d.%02d", sign, c/100, c%100)
}

// ForceRefreshRequired expires a connection on purpose (sandbox only), to
// demonstrate the reconnect flow; the customer is notified as for a real expiry.
func (a *Admin) ForceRefreshRequired(ctx context.Context, admin store.User, guid string) (int64, error) {
	if !a.s.cfg.Sandbox {
		return 0, store.ErrNotFound
	}
	acct, err := a.s.db.Account(ctx, guid)
	if err != nil {
		return 0, err
	}
	switch acct.State {
	case store.StateCompleted, store.StateUnverified, store.StateRefreshRequired:
	default:
		return 0, refuse(http.StatusConflict, "not_expirable", "Only a connected or unverified connection can be expired.")
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	answer, err := a.s.bank.PatchExternalBankAccount(cctx, guid, platform.PatchAccountRequest{State: platform.StateRefreshRequired})
	if err != nil {
		return a.audit(ctx, admin, "force_refresh_required", guid, store.AuditFailed, "The platform did not expire it: "+platformDetail(err)+".", "")
	}
	bg := context.WithoutCancel(ctx)
	changes, err := a.s.db.UpsertAccounts(bg, []store.Account{localAccount(answer)}, "admin")
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

// Emails lists the outbox, newest first, optionally one state only.
func (a *Admin) Emails(ctx context.Context, state string) ([]store.Email, error) {
	switch state {
	case "", store.EmailQueued, store.EmailSent, store.EmailFailed:
	default:
		return nil, refuse(http.StatusBadRequest, "bad_state", "Unknown outbox state.")
	}
	return a.s.db.Emails(ctx, state, 200)
}

// LinkReview is the page after an admin updated one of the organization's
// connections in Link: what was updated, and which of the organization's
// other connections at that bank were left unselected (they stop being active).
type LinkReview struct {
	SessionID string
	// Status: finishing (the completion is still queued), failed, or ready.
	Status string
	// Message explains a failed completion.
	Message     string
	Updated     store.Account
	HasUpdated  bool
	Selected    []SuccessAccount
	NoSelection bool            // Link reported no account list: nothing is deactivated
	Unselected  []store.Account // live connections to deactivate
	Deactivated []store.AuditEntry
	// DeactivatedAccounts are the connections named by Deactivated, by guid.
	DeactivatedAccounts map[string]store.Account
	Confirmed           bool // the admin already answered
}

func (a *Admin) reviewSession(ctx context.Context, admin store.User, id string) (store.LinkSession, store.Completion, error) {
	ls, err := a.s.db.UserLinkSession(ctx, admin.ID, id)
	if err != nil {
		return ls, store.Completion{}, err
	}
	if ls.CustomerGUID != "" || ls.Mode != ModeUpdate {
		return ls, store.Completion{}, store.ErrNotFound
	}
	c, err := a.s.db.CompletionForSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ls, c, refuse(http.StatusConflict, "not_finished", "Link has not finished for this update. Reconnect the connection again from the admin tab.")
	}
	return ls, c, err
}

// LinkReview builds the review of an admin's update of an organization connection.
func (a *Admin) LinkReview(ctx context.Context, admin store.User, id string) (LinkReview, error) {
	r := LinkReview{SessionID: id}
	ls, c, err := a.reviewSession(ctx, admin, id)
	if err != nil {
		return r, err
	}
	switch c.State {
	case store.CompletionQueued:
		r.Status = "finishing"
	case store.CompletionFailed:
		r.Status, r.Message = "failed", completionFailedMessage(c)
	default:
		r.Status = "ready"
	}
	target := c.AccountGUID
	if target == "" {
		target = ls.AccountGUID
	}
	if acct, err := a.s.db.Account(ctx, target); err == nil {
		r.Updated, r.HasUpdated = acct, true
	} else if !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	answered, err := a.s.db.AuditForRef(ctx, id)
	if err != nil {
		return r, err
	}
	r.DeactivatedAccounts = map[string]store.Account{}
	for _, e := range answered {
		if e.Action == "deactivate" {
			r.Deactivated = append(r.Deactivated, e)
			if acct, err := a.s.db.Account(ctx, e.AccountGUID); err == nil {
				r.DeactivatedAccounts[e.AccountGUID] = acct
			}
		}
	}
	r.Confirmed = len(answered) > 0
	var sel []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Mask string `json:"mask"`
	}
	if err := json.Unmarshal([]byte(c.SelectedAccounts), &sel); err != nil || len(sel) == 0 {
		r.NoSelection = true
		return r, nil
	}
	for _, s := range sel {
		r.Selected = append(r.Selected, SuccessAccount{ID: s.ID, Name: s.Name, Mask: s.Mask})
	}
	r.Unselected, err = a.unselected(ctx, r, c)
	return r, err
}

// unselected lists the organization's live connections at the updated bank
// that Link did not report as still shared (matched by mask and name).
func (a *Admin) unselected(ctx context.Context, r LinkReview, c store.Completion) ([]store.Account, error) {
	inst := c.InstitutionID
	if r.HasUpdated && r.Updated.InstitutionID != "" {
		inst = r.Updated.InstitutionID
	}
	if inst == "" {
		return nil, nil
	}
	own, err := a.s.db.OwnerAccounts(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []store.Account
	for _, o := range own {
		if o.InstitutionID != inst || (r.HasUpdated && o.GUID == r.Updated.GUID) {
			continue
		}
		name := o.AccountName
		if name == "" {
			name = o.Name
		}
		kept := false
		for _, s := range r.Selected {
			if s.Mask == o.AccountMask && s.Name == name {
				kept = true
			}
		}
		if !kept {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GUID < out[j].GUID })
	return out, nil
}

// DeactivateUnselected disconnects the organization's connections the admin
// left unselected in Link, each audited under the Link session.
func (a *Admin) DeactivateUnselected(ctx context.Context, admin store.User, id string) error {
	r, err := a.LinkReview(ctx, admin, id)
	if err != nil {
		return err
	}
	if r.Status != "ready" {
		return refuse(http.StatusConflict, "not_ready", "The update is not finished yet: nothing was deactivated. Wait a moment and try again.")
	}
	for _, acct := range r.Unselected {
		if _, err := a.disconnect(ctx, admin, acct, "deactivate", id, ", since it was not selected when the bank login was updated in Link"); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				continue // already gone
			}
			return err
		}
	}
	if len(r.Unselected) == 0 && !r.Confirmed {
		// Nothing to deactivate: still record the admin's answer, so the page confirms.
		_, err := a.audit(ctx, admin, "review", r.Updated.GUID, store.AuditOK, "Reviewed the accounts after the Link update: no other connection was left unselected.", id)
		return err
	}
	return nil
}
