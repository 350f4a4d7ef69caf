package connections

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"

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

// SMTPConfig is the outgoing mail server; an empty Host keeps mail in the outbox.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
}

// Enabled reports whether mail is sent at all.
func (c SMTPConfig) Enabled() bool { return c.Host != "" }

// Mailer sends the outbox through SMTP with bounded retries.
type Mailer struct {
	log         *slog.Logger
	db          *store.DB
	cfg         SMTPConfig
	maxAttempts int
	now         func() time.Time
	// send delivers one message; tests replace it.
	send func(ctx context.Context, e store.Email) error
}

// NewMailer builds the outbox worker.
func NewMailer(log *slog.Logger, db *store.DB, cfg SMTPConfig) *Mailer {
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	m := &Mailer{log: log, db: db, cfg: cfg, maxAttempts: 6, now: time.Now}
	m.send = m.smtpSend
	return m
}

// Run sends due messages until ctx ends; without SMTP it only says so.
func (m *Mailer) Run(ctx context.Context) {
	if !m.cfg.Enabled() {
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

// SendDue makes one attempt at every due message and reports how many it tried.
func (m *Mailer) SendDue(ctx context.Context) int {
	due, err := m.db.DueEmails(ctx, 20)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("due emails", "err", err)
		}
		return 0
	}
	bg := context.WithoutCancel(ctx)
	for _, e := range due {
		ok, err := m.db.ClaimEmail(bg, e.ID, m.now().Add(emailRetryDelay(e.Attempts)+time.Minute))
		if err != nil || !ok {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = m.send(sctx, e)
		cancel()
		attempt := e.Attempts + 1
		switch {
		case err == nil:
			if err := m.db.MarkEmailSent(bg, e.ID); err != nil {
				m.log.Error("mark email sent", "email", e.ID, "err", err)
			}
			m.log.Info("email sent", "email", e.ID, "attempt", attempt)
		case attempt >= m.maxAttempts || permanentMailError(err):
			m.log.Warn("email failed for good", "email", e.ID, "attempt", attempt, "err", err)
			m.db.FailEmail(bg, e.ID, clipText(err.Error(), 500))
		default:
			next := m.now().Add(emailRetryDelay(attempt - 1))
			m.log.Warn("email will be retried", "email", e.ID, "attempt", attempt, "err", err, "next", next)
			m.db.RetryEmail(bg, e.ID, next, clipText(err.Error(), 500))
		}
	}
	return len(due)
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// permanentMailError tells a 5xx answer of the SMTP server (the message will
// never be accepted) from a transient failure.
func permanentMailError(err error) bool {
	var pe permanent
	return errors.As(err, &pe)
}

type permanent struct{ error }

// smtpSend delivers one message: STARTTLS when offered, AUTH when a username is set.
func (m *Mailer) smtpSend(ctx context.Context, e store.Email) error {
	if strings.ContainsAny(e.To+e.Subject+m.cfg.From, "\r\n") {
		return permanent{errors.New("header contains a line break")}
	}
	addr := net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, m.cfg.Host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: m.cfg.Host, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	}
	if m.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.cfg.Username, m.cfg.Password, m.cfg.Host)); err != nil {
			return classify(err)
		}
	}
	if err := c.Mail(m.cfg.From); err != nil {
		return classify(err)
	}
	if err := c.Rcpt(e.To); err != nil {
		return classify(err)
	}
	w, err := c.Data()
	if err != nil {
		return classify(err)
	}
	if _, err := w.Write(formatMessage(m.cfg.From, e, m.now())); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return classify(err)
	}
	return c.Quit()
}

func classify(err error) error {
	var te interface{ Temporary() bool }
	msg := err.Error()
	if len(msg) >= 3 && msg[0] == '5' && !errors.As(err, &te) {
		return permanent{err}
	}
	return err
}

// formatMessage builds a plain-text RFC 5322 message with CRLF line ends.
func formatMessage(from string, e store.Email, now time.Time) []byte {
	var b strings.Builder
	b.WriteString("From: " + from + "\r\n")
	b.WriteString("To: " + e.To + "\r\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", e.Subject) + "\r\n")
	b.WriteString("Date: " + now.UTC().Format(time.RFC1123Z) + "\r\n")
	b.WriteString("Message-ID: <outbox-" + strconv.FormatInt(e.ID, 10) + "." + strconv.FormatInt(now.UnixNano(), 36) + "@portal>\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	body := strings.ReplaceAll(e.Body, "\r\n", "\n")
	for _, line := range strings.Split(body, "\n") {
		b.WriteString(line + "\r\n") // the DATA writer does the dot-stuffing
	}
	return []byte(b.String())
}
