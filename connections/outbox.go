package connections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bankconnections/portal/mail"
	"github.com/bankconnections/portal/store"
)

// queueEmail puts a message in the outbox; the mailer sends it when SMTP is
// configured, otherwise it stays there for an admin to read.
func (s *Service) queueEmail(ctx context.Context, to, subject, body, accountGUID string) error {
	if to == "" {
		return nil
	}
	_, err := s.db.QueueEmail(ctx, store.Email{To: to, Subject: subject, Body: body, AccountGUID: accountGUID})
	return err
}

// emailCustomer queues a message to the customer's portal login address and
// returns that address ("" when the customer has no login).
func (s *Service) emailCustomer(ctx context.Context, customerGUID, accountGUID, subject, body string) (string, error) {
	u, err := s.db.UserByCustomerGUID(ctx, customerGUID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return u.Email, s.queueEmail(ctx, u.Email, subject, body, accountGUID)
}

// emailAdmins queues a message to every admin, for failures that need a person.
func (s *Service) emailAdmins(ctx context.Context, accountGUID, subject, body string) (int, error) {
	to, err := s.db.AdminEmails(ctx)
	if err != nil {
		return 0, err
	}
	for _, addr := range to {
		if err := s.queueEmail(ctx, addr, subject, body, accountGUID); err != nil {
			return 0, err
		}
	}
	return len(to), nil
}

// The email links to the account's page on the portal (portalURL: the
// portal's public base URL; without one the email only names the portal).
func refreshRequiredEmail(a store.Account, portalURL string) (subject, body string) {
	subject = "Action needed: reconnect your " + displayInstitution(a) + " account"
	body = fmt.Sprintf("Hello,\n\nYour bank login for %s %s has expired. No transactions can be made with this account until you reconnect it.\n\n"+
		"Sign in to the portal and click Reconnect next to the account; it takes a minute.\n", displayInstitution(a), maskWords(a.AccountMask))
	if portalURL != "" {
		body += "\n" + strings.TrimSuffix(portalURL, "/") + "/accounts/" + a.GUID + "\n"
	}
	return subject, body
}

func maskWords(mask string) string {
	if mask == "" {
		return ""
	}
	return "(account ending " + mask + ")"
}

// Sender delivers one email; mail.Sender is the SMTP one. A failure that
// mail.Permanent reports is not tried again.
type Sender interface {
	Send(ctx context.Context, m mail.Message) error
}

// Mailer sends the outbox through a Sender with bounded retries.
type Mailer struct {
	log         *slog.Logger
	db          *store.DB
	sender      Sender // nil: mail is not sent
	maxAttempts int
	now         func() time.Time
}

// NewMailer builds the outbox worker; a nil sender keeps every email in the outbox.
func NewMailer(log *slog.Logger, db *store.DB, sender Sender) *Mailer {
	return &Mailer{log: log, db: db, sender: sender, maxAttempts: 6, now: time.Now}
}

// Run sends due messages until ctx ends; without SMTP it only says so.
func (m *Mailer) Run(ctx context.Context) {
	if m.sender == nil {
		m.log.Info("SMTP is not configured: emails stay in the outbox (see /admin/notifications)")
		return
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		m.SendDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// emailRetryDelay is the wait after the n-th failed attempt: 30 s doubling, with jitter.
func emailRetryDelay(attempts int) time.Duration {
	d := 30 * time.Second << min(attempts, 6)
	return d/2 + rand.N(d/2+1)
}

// SendDue makes one attempt at every due message not held by another
// instance, and reports how many it tried. Due messages are claimed a few at
// a time (the claim is the lease: a message is sent by one instance, and is
// due again if that instance dies mid-send) and sent one after another,
// oldest first; the lease covers the whole batch.
func (m *Mailer) SendDue(ctx context.Context) int {
	tried := 0
	for ctx.Err() == nil {
		due, err := m.db.ClaimDueEmails(ctx, emailBatch, m.now().Add(emailBatch*sendTimeout+time.Minute))
		if err != nil {
			if ctx.Err() == nil {
				m.log.Error("claim due emails", "err", err)
			}
			break
		}
		slices.SortFunc(due, func(a, b store.Email) int { return cmp.Compare(a.ID, b.ID) })
		for _, e := range due {
			m.send(ctx, e)
		}
		tried += len(due)
		if len(due) < emailBatch {
			break
		}
	}
	return tried
}

// emailBatch is how many due messages one claim takes.
const emailBatch = 5

// sendTimeout bounds one attempt at sending a message.
const sendTimeout = 30 * time.Second

// send makes one attempt at a claimed message (e as it was before the claim)
// and writes the outcome down.
func (m *Mailer) send(ctx context.Context, e store.Email) {
	bg := context.WithoutCancel(ctx)
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	err := m.sender.Send(sctx, mail.Message{ID: e.ID, To: e.To, Subject: e.Subject, Body: e.Body})
	cancel()
	attempt := e.Attempts + 1
	switch {
	case err == nil:
		if err := m.db.MarkEmailSent(bg, e.ID); err != nil {
			m.log.Error("mark email sent", "email", e.ID, "err", err)
		}
		m.log.Info("email sent", "email", e.ID, "attempt", attempt)
	case attempt >= m.maxAttempts || mail.Permanent(err):
		m.log.Warn("email failed for good", "email", e.ID, "attempt", attempt, "err", err)
		if ferr := m.db.FailEmail(bg, e.ID, clipText(err.Error(), 500)); ferr != nil {
			m.log.Error("mark email failed", "email", e.ID, "err", ferr)
		}
	default:
		next := m.now().Add(emailRetryDelay(attempt - 1))
		m.log.Warn("email will be retried", "email", e.ID, "attempt", attempt, "err", err, "next", next)
		if rerr := m.db.RetryEmail(bg, e.ID, next, clipText(err.Error(), 500)); rerr != nil {
			m.log.Error("schedule email retry", "email", e.ID, "err", rerr)
		}
	}
}

// clipText cuts s to at most n bytes without splitting a UTF-8 character, so
// what is stored stays valid text.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
