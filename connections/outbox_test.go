package connections

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/store"
)

func TestMailerRetriesThenGivesUp(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	db.SetClock(clock)
	m := NewMailer(slog.New(slog.NewTextHandler(io.Discard, nil)), db, SMTPConfig{Host: "mail.example", From: "portal@example.com"})
	m.now, m.maxAttempts = clock, 3
	var sent []string
	fail := map[string]error{"flaky@example.com": errors.New("421 try later"), "never@example.com": errors.New("450 mailbox busy"),
		"bad@example.com": permanent{errors.New("550 no such user")}}
	tries := map[string]int{}
	m.send = func(_ context.Context, e store.Email) error {
		tries[e.To]++
		if err := fail[e.To]; err != nil && !(e.To == "flaky@example.com" && tries[e.To] > 1) {
			return err
		}
		sent = append(sent, e.To)
		return nil
	}
	for _, to := range []string{"ok@example.com", "flaky@example.com", "never@example.com", "bad@example.com"} {
		if _, err := db.QueueEmail(ctx, store.Email{To: to, Subject: "s", Body: "b"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		m.SendDue(ctx)
		now = now.Add(2 * time.Hour) // past any backoff
	}
	if strings.Join(sent, ",") != "ok@example.com,flaky@example.com" {
		t.Fatalf("sent: got %v", sent)
	}
	if tries["never@example.com"] != 3 || tries["bad@example.com"] != 1 {
		t.Fatalf("attempts: got %v, want 3 for a transient failure and 1 for a permanent one", tries)
	}
	failed, _ := db.Emails(ctx, store.EmailFailed, 10)
	if len(failed) != 2 || failed[0].LastError == "" {
		t.Fatalf("failed: got %+v", failed)
	}
}

func TestMailerWithoutSMTPKeepsTheOutbox(t *testing.T) {
	// Opening (and migrating) is not what is timed: under -race on a loaded
	// machine it alone may take longer than the mailer's second.
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.QueueEmail(ctx, store.Email{To: "a@example.com", Subject: "s", Body: "b"})
	m := NewMailer(slog.New(slog.NewTextHandler(io.Discard, nil)), db, SMTPConfig{})
	m.send = func(context.Context, store.Email) error { t.Fatal("sent without SMTP"); return nil }
	m.Run(ctx) // returns at once
	if q, _ := db.Emails(ctx, store.EmailQueued, 10); len(q) != 1 {
		t.Fatalf("queued: got %d, want 1", len(q))
	}
}

func TestFormatMessage(t *testing.T) {
	msg := string(formatMessage("portal@example.com", store.Email{ID: 7, To: "a@example.com", Subject: "Café ready", Body: "line 1\nline 2"}, time.Unix(0, 0)))
	for _, want := range []string{"From: portal@example.com\r\n", "To: a@example.com\r\n", "Subject: =?utf-8?q?Caf=C3=A9_ready?=\r\n", "\r\n\r\nline 1\r\nline 2\r\n"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}
