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
	"github.com/bankconnections/portal/rules"
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

// SMTPEnabled reports whether the outbox is being sent.
func (a *Admin) SMTPEnabled() bool { return a.cfg.SMTPEnabled }

// Wait blocks until background jobs started by the admin side end (tests, shutdown).
func (a *Admin) Wait() { a.jobs.Wait() }

// Recover ends refresh jobs a stopped process left running.
func (a *Admin) Recover(ctx context.Context) error {
	return a.s.db.FailInterruptedRefreshJobs(ctx, "The portal restarted while this refresh was running. Start it again.")
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
		return out, Refuse(KindInvalid, "bad_state", "Unknown state in the filter.")
	}
	q.Institution = strings.TrimSpace(q.Institution)
	if !validInstitution(q.Institution) {
		return out, Refuse(KindInvalid, "bad_institution", "An institution id looks like ins_109508.")
	}
	f := store.AdminFilter{State: q.State, InstitutionID: q.Institution, BankLevel: q.BankLevel}
	var after *store.Cursor
	if q.Cursor != "" {
		c, err := store.ParseCursor(q.Cursor)
		if err != nil {
			return out, Refuse(KindInvalid, "bad_cursor", "That page link is not valid. Go back to the first page of the list and page from there.")
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
			return out, Refuse(KindInvalid, "bad_customer", "Enter a customer's email address or their 32-character customer id.")
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

// subject is what the admin rules need to know about a connection.
func (a *Admin) subject(acct store.Account) rules.AdminSubject {
	return rules.AdminSubject{State: acct.State, BankLevel: acct.CustomerGUID == "", Sandbox: SandboxBank(acct)}
}

// allowed refuses an action the connection's state does not allow, in the admin's words.
func (a *Admin) allowed(acct store.Account, action rules.Action) error {
	if rules.AdminAllows(a.subject(acct), action) {
		return nil
	}
	code := "not_allowed"
	if rules.Obsolete(acct.State) {
		code = "obsolete"
	}
	return Refuse(KindConflict, code, rules.Refusal(action, acct.State, acct.CustomerGUID == ""))
}

// Remind sends the customer of an expired connection a reminder: a banner
// and an email. It returns the audit entry of the action.
func (a *Admin) Remind(ctx context.Context, admin store.User, guid string) (int64, error) {
	acct, err := a.s.db.Account(ctx, guid)
	if err != nil {
		return 0, err
	}
	if err := a.allowed(acct, rules.Remind); err != nil {
		return 0, err
	}
	if _, err := a.s.db.AddNotification(ctx, store.Notification{CustomerGUID: acct.CustomerGUID, AccountGUID: acct.GUID, Kind: rules.BannerReminder,
		Message: rules.ReminderBanner(acct.InstitutionName), ReasonState: rules.ReasonState(rules.BannerReminder, true)}); err != nil {
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
	if err := a.allowed(acct, rules.Disconnect); err != nil {
		return 0, err
	}
	answer, err := a.s.removeConnection(ctx, a.s.bank, acct, "admin")
	bg := context.WithoutCancel(ctx)
	var pe *platform.Error
	if err != nil && !errors.As(err, &pe) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return 0, err // the platform answered, but saving its answer failed
	}
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
	acct, err := a.s.db.Account(ctx, guid)
	if err != nil {
		return 0, err
	}
	if err := a.allowed(acct, rules.Refresh); err != nil {
		return 0, err
	}
	job, err := a.s.db.CreateRefreshJob(ctx, guid, admin.ID)
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
	answer, err := a.slow.GetExternalBankAccount(ctx, job.AccountGUID, platform.GetAccountOptions{IncludeBalances: true, ForceBalanceRefresh: true})
	bg := context.WithoutCancel(ctx)
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
		if nerr := a.s.notify(bg, changes); nerr != nil {
			a.s.log.Error("notify after refresh", "account", job.AccountGUID, "err", nerr)
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
		if _, derr := a.s.db.MarkAccountsDeleted(bg, []string{job.AccountGUID}, "refresh"); derr != nil {
			a.s.log.Error("mark refreshed connection deleted", "account", job.AccountGUID, "err", derr)
		}
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
	if _, aerr := a.audit(bg, admin, "refresh", job.AccountGUID, result, msg, ""); aerr != nil {
		a.s.log.Error("audit refresh", "account", job.AccountGUID, "err", aerr)
	}
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
		a.s.log.Error("store connection after refresh", "account", guid, "err", err)
		return false
	}
	if err := a.s.notify(ctx, changes); err != nil {
		a.s.log.Error("notify after refresh", "account", guid, "err", err)
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
	acct, err := a.s.db.Account(ctx, guid)
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
		return nil, Refuse(KindInvalid, "bad_state", "Unknown outbox state.")
	}
	return a.s.db.Emails(ctx, state, 200)
}

// LinkReview is the page after an admin updated one of the organization's
// connections in Link: what was updated, or, when Link's selection left the
// connection's own account out, that connection to confirm disconnecting.
// Link's selection speaks only for the Item Link opened (one connection):
// no other connection of the organization is ever listed.
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
	Unselected  []store.Account // the updated connection, when left unselected and still live
	// LeftUnselected: Link's selection left the connection's own account out.
	LeftUnselected bool
	TargetGUID     string
	Deactivated    []store.AuditEntry
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
		return ls, c, Refuse(KindConflict, "not_finished", "Link has not finished for this update. Reconnect the connection again from the admin tab.")
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
	acct, err := a.s.db.Account(ctx, target)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	found := err == nil
	r.LeftUnselected, r.TargetGUID = c.Unselected, target
	if found && !c.Unselected {
		r.Updated, r.HasUpdated = acct, true
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
	if c.Unselected && found && !rules.Obsolete(acct.State) {
		r.Unselected = []store.Account{acct}
	}
	return r, nil
}

// DeactivateUnselected disconnects the updated connection when the admin
// left its account unselected in Link, audited under the Link session.
func (a *Admin) DeactivateUnselected(ctx context.Context, admin store.User, id string) error {
	r, err := a.LinkReview(ctx, admin, id)
	if err != nil {
		return err
	}
	if r.Status != "ready" {
		return Refuse(KindConflict, "not_ready", "The update is not finished yet: nothing was deactivated. Wait a moment and try again.")
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
		detail := "Reviewed the accounts after the Link update: the connection's account stayed selected."
		if r.LeftUnselected {
			detail = "The connection left unselected in Link was already disconnected: nothing more to do."
		}
		_, err := a.audit(ctx, admin, "review", r.TargetGUID, store.AuditOK, detail, id)
		return err
	}
	return nil
}
