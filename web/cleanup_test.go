package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/web"
)

// countingSweeper deletes with the real store and counts what it deleted.
type countingSweeper struct {
	db      *store.DB
	deleted atomic.Int64
}

func (s *countingSweeper) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	n, err := s.db.DeleteExpiredSessions(ctx)
	s.deleted.Add(n)
	return n, err
}

var _ web.SessionSweeper = (*countingSweeper)(nil)

// The cleanup deletes ended sessions on its schedule, keeps live ones, and
// returns once its owner cancels it (the server waits for it at shutdown).
func TestSessionCleanupDeletesEndedSessionsUntilStopped(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	u, err := db.CreateUser(ctx, store.User{Email: "alice@example.com", PasswordHash: "x", Role: store.RoleCustomer, CustomerGUID: aliceGUID})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "ended", u.ID, -3*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "live", u.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	sweeper := &countingSweeper{db: db}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		web.RunSessionCleanup(runCtx, slog.New(slog.NewTextHandler(io.Discard, nil)), sweeper, 10*time.Millisecond)
	}()
	testutil.Eventually(t, 30*time.Second, func() error {
		if n := sweeper.deleted.Load(); n != 1 {
			return fmt.Errorf("deleted %d sessions, want the ended one", n)
		}
		return nil
	})
	if _, err := db.SessionUser(ctx, "live"); err != nil {
		t.Fatalf("the live session after the cleanup: %v, want it kept", err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the cleanup still runs 30 s after its context ended")
	}
}
