package connections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	// s runs the domain's shared work: removals, notifications, emails and
	// owned background work (spawn); the rest is the admin's own.
	s    *Service
	db   *store.DB
	log  *slog.Logger
	bank *platform.Client
	// portalURL is the portal's public base URL, for links in emails.
	portalURL string
	slow      *platform.Client // for calls that may take minutes: no retries, no per-attempt timeout
	cfg       AdminConfig
	jobs      sync.WaitGroup
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
	return &Admin{s: s, db: s.db, log: s.log, bank: s.bank, portalURL: s.cfg.PortalURL, slow: slow, cfg: cfg}
}

// SMTPEnabled reports whether the outbox is being sent.
func (a *Admin) SMTPEnabled() bool { return a.cfg.SMTPEnabled }

// Wait blocks until background jobs started by the admin side end (tests, shutdown).
func (a *Admin) Wait() { a.jobs.Wait() }

// Recover ends refresh jobs a stopped instance left running (their lease
// ran out); jobs other instances are running are left alone. The service
// checks again periodically while it runs.
func (a *Admin) Recover(ctx context.Context) error {
	_, err := a.s.EndInterruptedRefreshes(ctx)
	return err
}

func (a *Admin) audit(ctx context.Context, admin store.User, action, guid, result, detail, ref string) (int64, error) {
	return a.db.AddAudit(context.WithoutCancel(ctx), store.AuditEntry{ActorUserID: admin.ID, ActorEmail: admin.Email, Action: action,
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
