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
	"unicode/utf8"

	"github.com/bankconnections/portal/internal/pgtest"
	"github.com/bankconnections/portal/mail"
	"github.com/bankconnections/portal/store"
)

// eachStore runs test on a fresh store of each engine, as subtests named
// after it (the PostgreSQL one is skipped with a message without a server).
func eachStore(t *testing.T, test func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		test(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := store.OpenPostgres(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		test(t, db)
	})
}

func TestMailerRetriesThenGivesUp(t *testing.T) { eachStore(t, testMailerRetriesThenGivesUp) }

func testMailerRetriesThenGivesUp(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	db.SetClock(clock)
	var sent []string
	fail := map[string]error{"flaky@example.com": &mail.Error{Code: 421, Err: errors.New("try later")},
		"never@example.com": &mail.Error{Code: 450, Err: errors.New("mailbox busy")},
		"bad@example.com":   &mail.Error{Permanent: true, Code: 550, Err: errors.New("no such user")}}
	tries := map[string]int{}
	m := NewMailer(slog.New(slog.NewTextHandler(io.Discard, nil)), db, &fakeSender{send: func(_ context.Context, e mail.Message) error {
		tries[e.To]++
		if err := fail[e.To]; err != nil && !(e.To == "flaky@example.com" && tries[e.To] > 1) {
			return err
		}
		sent = append(sent, e.To)
		return nil
	}})
	m.now, m.maxAttempts = clock, 3
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
	m := NewMailer(slog.New(slog.NewTextHandler(io.Discard, nil)), db, nil)
	m.Run(ctx) // returns at once
	if q, _ := db.Emails(ctx, store.EmailQueued, 10); len(q) != 1 {
		t.Fatalf("queued: got %d, want 1", len(q))
	}
}

// fakeSender is the outbox's edge: the SMTP transport itself is tested in package mail.
type fakeSender struct {
	send func(ctx context.Context, m mail.Message) error
}

var _ Sender = (*fakeSender)(nil)

func (f *fakeSender) Send(ctx context.Context, m mail.Message) error { return f.send(ctx, m) }

func TestClipTextKeepsUTF8(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"caf\u00e9 au lait", 4, "caf"},       // é is 2 bytes: cutting inside it drops it whole
		{"caf\u00e9 au lait", 5, "caf\u00e9"}, // after it: kept
		{"\u20ac\u20ac", 4, "\u20ac"},         // € is 3 bytes
		{"\u20ac", 2, ""},
	}
	for _, tt := range tests {
		got := clipText(tt.in, tt.n)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("clipText(%q, %d): got %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
