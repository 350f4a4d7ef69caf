// Package mail delivers one email through an SMTP server and says whether a
// failed delivery is worth trying again. It owns the SMTP transport only: the
// queue of messages, their retries and their records belong to the caller.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Config is the outgoing mail server; an empty Host means mail is not sent.
type Config struct {
	Host     string
	Port     int // default 587
	Username string
	Password string
	From     string
}

// Enabled reports whether mail is sent at all.
func (c Config) Enabled() bool { return c.Host != "" }

// Message is one plain-text email.
type Message struct {
	ID      int64 // the outbox's id, part of the Message-ID header
	To      string
	Subject string
	Body    string
}

// Error is a failed delivery. Permanent means the server refused the message
// for good (a 5xx reply, or a message that can never be sent as it is);
// otherwise the failure was the network's or a 4xx reply, and a later try may work.
type Error struct {
	Permanent bool
	Code      int // the SMTP reply code, 0 when the server did not answer with one
	Err       error
}

func (e *Error) Error() string {
	if e.Code != 0 {
		return "smtp " + strconv.Itoa(e.Code) + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether err is a delivery failure that no retry can fix.
func Permanent(err error) bool {
	var me *Error
	return errors.As(err, &me) && me.Permanent
}

// Sender delivers messages through one SMTP server: STARTTLS when the server
// offers it, AUTH PLAIN when a username is set.
type Sender struct {
	cfg Config
	now func() time.Time
	// opts are added to the client's options (tests: a plain connection).
	opts []gomail.Option
}

// NewSender builds the SMTP transport.
func NewSender(cfg Config) *Sender {
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	return &Sender{cfg: cfg, now: time.Now}
}

// Send delivers one message; a failure is an *Error.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg, err := s.message(m)
	if err != nil {
		return &Error{Permanent: true, Err: err}
	}
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTLSPolicy(gomail.TLSOpportunistic)}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return &Error{Err: context.DeadlineExceeded}
		}
		opts = append(opts, gomail.WithTimeout(left))
	}
	c, err := gomail.NewClient(s.cfg.Host, append(opts, s.opts...)...)
	if err != nil {
		return &Error{Permanent: true, Err: err}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return classify(err)
	}
	return nil
}

// message builds the RFC 5322 message; an address or header that cannot be
// sent is an error (a line break in a header would let it add headers).
func (s *Sender) message(m Message) (*gomail.Msg, error) {
	if strings.ContainsAny(m.To+m.Subject+s.cfg.From, "\r\n") {
		return nil, errors.New("header contains a line break")
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, fmt.Errorf("sender address: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("recipient address: %w", err)
	}
	msg.Subject(m.Subject)
	now := s.now()
	msg.SetDateWithValue(now)
	msg.SetMessageIDWithValue("outbox-" + strconv.FormatInt(m.ID, 10) + "." + strconv.FormatInt(now.UnixNano(), 36) + "@portal")
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	return msg, nil
}

// classify turns the library's errors into an *Error by their types: a
// SendError carries the reply code of the command that failed, a failed AUTH
// the server's textproto reply; anything else (dial, TLS, a cut connection) is transient.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		switch {
		case code >= 500:
			return &Error{Permanent: true, Code: code, Err: err}
		case code >= 400:
			return &Error{Code: code, Err: err}
		case se.Reason == gomail.ErrGetSender || se.Reason == gomail.ErrGetRcpts || se.Reason == gomail.ErrNoUnencoded:
			return &Error{Permanent: true, Err: err} // the message itself cannot be sent
		}
		return &Error{Err: err}
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return &Error{Permanent: te.Code >= 500, Code: te.Code, Err: err}
	}
	return &Error{Err: err}
}
