package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	gomail "github.com/wneessen/go-mail"
)

// smtpServer is a real SMTP server in the test's process (emersion/go-smtp):
// it checks AUTH PLAIN, refuses what refuse says and keeps what it accepts.
type smtpServer struct {
	addr string
	user string
	pass string

	mu          sync.Mutex
	refuse      map[string]*smtp.SMTPError // "RCPT to@x" or "DATA" -> the reply
	received    []received
	authOverTLS []bool // per AUTH: was the connection encrypted
}

type received struct {
	from, to string
	data     []byte
}

// newSMTPServer starts the server; with tlsConfig it offers STARTTLS.
func newSMTPServer(t *testing.T, tlsConfig *tls.Config) *smtpServer {
	t.Helper()
	s := &smtpServer{user: "portal", pass: "s3cret", refuse: map[string]*smtp.SMTPError{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{srv: s, conn: c}, nil }))
	srv.Domain = "mail.test"
	srv.TLSConfig = tlsConfig
	srv.AllowInsecureAuth = true // the test's connection is plain; the client only sends AUTH to 127.0.0.1 over it
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *smtpServer) sender() *Sender {
	host, port, _ := net.SplitHostPort(s.addr)
	p, _ := strconv.Atoi(port)
	return NewSender(Config{Host: host, Port: p, Username: s.user, Password: s.pass, From: "portal@bank.example"})
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

type session struct {
	srv      *smtpServer
	conn     *smtp.Conn
	authed   bool
	from, to string
}

func (c *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (c *session) Auth(string) (sasl.Server, error) {
	_, encrypted := c.conn.TLSConnectionState()
	c.srv.mu.Lock()
	c.srv.authOverTLS = append(c.srv.authOverTLS, encrypted)
	c.srv.mu.Unlock()
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != c.srv.user || pass != c.srv.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		c.authed = true
		return nil
	}), nil
}

func (c *session) Mail(from string, _ *smtp.MailOptions) error {
	if !c.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	c.from = from
	return nil
}

func (c *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if e := c.srv.refuse["RCPT "+to]; e != nil {
		return e
	}
	c.to = to
	return nil
}

func (c *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if e := c.srv.refuse["DATA"]; e != nil {
		return e
	}
	c.srv.received = append(c.srv.received, received{from: c.from, to: c.to, data: b})
	return nil
}

func (c *session) Reset()        { c.from, c.to = "", "" }
func (c *session) Logout() error { return nil }

func TestSendDeliversThroughSMTP(t *testing.T) {
	srv := newSMTPServer(t, nil)
	s := srv.sender()
	s.now = func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Send(ctx, Message{ID: 7, To: "alice@example.com", Subject: "Café: reconnect", Body: "Hello,\n\n.a line with a dot\nline 3"}); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := srv.messages()
	if len(got) != 1 || got[0].from != "portal@bank.example" || got[0].to != "alice@example.com" {
		t.Fatalf("envelopes: got %+v", got)
	}
	msg, err := netmail.ReadMessage(strings.NewReader(string(got[0].data)))
	if err != nil {
		t.Fatalf("parse the received message: %v\n%s", err, got[0].data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "Café: reconnect" {
		t.Errorf("subject: got %q (%v), want %q", subject, err, "Café: reconnect")
	}
	if id := msg.Header.Get("Message-Id"); !strings.HasPrefix(id, "<outbox-7.") {
		t.Errorf("Message-ID: got %q, want <outbox-7.…>", id)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(s.now()) {
		t.Errorf("Date: got %v (%v), want %v", d, err, s.now())
	}
	body, _ := io.ReadAll(msg.Body)
	if !strings.Contains(qpDecode(t, msg.Header.Get("Content-Transfer-Encoding"), body), ".a line with a dot\r\nline 3") {
		t.Errorf("body: got %q", body)
	}
}

func TestSendClassifiesFailures(t *testing.T) {
	srv := newSMTPServer(t, nil)
	srv.refuse["RCPT gone@example.com"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	srv.refuse["RCPT busy@example.com"] = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	tests := []struct {
		name      string
		sender    func() *Sender
		to        string
		subject   string
		permanent bool
		code      int
	}{
		{"unknown recipient (550)", srv.sender, "gone@example.com", "s", true, 550},
		{"busy mailbox (451)", srv.sender, "busy@example.com", "s", false, 451},
		{"wrong password (535)", func() *Sender { s := srv.sender(); s.cfg.Password = "wrong"; return s }, "a@example.com", "s", true, 535},
		{"nobody listening", func() *Sender {
			return NewSender(Config{Host: "127.0.0.1", Port: closedPort, From: "portal@bank.example"})
		}, "a@example.com", "s", false, 0},
		{"line break in a header", srv.sender, "a@example.com", "s\r\nBcc: everyone@example.com", true, 0},
		{"not an address", srv.sender, "not an address", "s", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := tt.sender().Send(ctx, Message{ID: 1, To: tt.to, Subject: tt.subject, Body: "b"})
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("got %v (%T), want a *mail.Error", err, err)
			}
			if me.Permanent != tt.permanent || Permanent(err) != tt.permanent || me.Code != tt.code {
				t.Fatalf("got permanent=%v code=%d (%v), want permanent=%v code=%d", me.Permanent, me.Code, err, tt.permanent, tt.code)
			}
		})
	}
	if got := srv.messages(); len(got) != 0 {
		t.Fatalf("the server accepted %d messages, want none", len(got))
	}
}

func TestSendRefusedAtData(t *testing.T) {
	srv := newSMTPServer(t, nil)
	srv.refuse["DATA"] = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "content rejected"}
	err := srv.sender().Send(context.Background(), Message{ID: 1, To: "a@example.com", Subject: "s", Body: "b"})
	if !Permanent(err) {
		t.Fatalf("got %v, want a permanent failure", err)
	}
}

// qpDecode undoes the body's transfer encoding.
func qpDecode(t *testing.T, encoding string, body []byte) string {
	t.Helper()
	if !strings.EqualFold(encoding, "quoted-printable") {
		return string(body)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(body))))
	if err != nil {
		t.Fatalf("quoted-printable body: %v", err)
	}
	return string(b)
}

// A server that offers STARTTLS gets the credentials and the message only
// over the encrypted connection.
func TestSendUsesSTARTTLSWhenOffered(t *testing.T) {
	cert, roots := selfSigned(t)
	srv := newSMTPServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	s := srv.sender()
	s.opts = []gomail.Option{gomail.WithTLSConfig(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Send(ctx, Message{ID: 1, To: "a@example.com", Subject: "s", Body: "b"}); err != nil {
		t.Fatalf("send: %v", err)
	}
	srv.mu.Lock()
	auths := append([]bool(nil), srv.authOverTLS...)
	srv.mu.Unlock()
	if len(auths) != 1 || !auths[0] {
		t.Fatalf("AUTH over TLS: got %v, want [true]", auths)
	}
	if got := srv.messages(); len(got) != 1 {
		t.Fatalf("messages: got %d, want 1", len(got))
	}
}

// selfSigned makes a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
