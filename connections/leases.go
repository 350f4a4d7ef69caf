package connections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Several portal instances may share one database. Nothing here assumes this
// process is the only one: queued work is claimed with a lease (the claimer
// works it until the lease ends; if it dies, another instance takes the work
// over once the lease has run out), the sync walks the platform on whichever
// instance holds the sync lease for the interval, and a running refresh is
// ended as interrupted only once its instance stopped renewing it.

// newHolder names this instance in leases: random per process, so a
// restarted instance does not mistake its predecessor's leases for its own.
func newHolder() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Holder is this instance's name in leases.
func (s *Service) Holder() string { return s.holder }

const (
	// attemptTimeout bounds one attempt at a queued completion.
	attemptTimeout = 30 * time.Second
	// workLease is how long a claimed completion or email is held: the
	// attempt's own bound, plus room to write its outcome down. Another
	// instance takes the work over only after that.
	workLease = attemptTimeout + 30*time.Second
	// claimBatch is how many due items one claim takes; they are worked at
	// once, so each ends well inside its lease.
	claimBatch = 10

	// syncLeaseName names the lease of the periodic sync.
	syncLeaseName = "sync"

	// refreshLease is how long a running refresh is held without renewal;
	// its instance renews it every refreshLease/3 while the call runs.
	refreshLease = 30 * time.Second
)

// SyncIfLeased runs one sync if this instance gets the sync lease for the
// interval (or holds it already), renewing it while the walk runs, and
// reports whether it synced. Other instances skip this interval's sync: the
// scheduled and the page-triggered syncs go through here.
func (s *Service) SyncIfLeased(ctx context.Context) bool {
	ok, err := s.db.TakeLease(ctx, syncLeaseName, s.holder, s.now().Add(s.cfg.SyncInterval))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("take the sync lease", "err", err)
		}
		return false
	}
	if !ok {
		s.log.Debug("sync skipped: another instance holds the sync lease")
		return false
	}
	renewed := make(chan struct{})
	rctx, stop := context.WithCancel(ctx)
	go func() {
		defer close(renewed)
		every(rctx, max(s.cfg.SyncInterval/3, time.Millisecond), func() bool {
			if _, err := s.db.TakeLease(rctx, syncLeaseName, s.holder, s.now().Add(s.cfg.SyncInterval)); err != nil && rctx.Err() == nil {
				s.log.Warn("renew the sync lease", "err", err)
			}
			return true
		})
	}()
	s.Sync(ctx)
	stop()
	<-renewed
	return true
}

// EndInterruptedRefreshes ends the refreshes whose instance stopped renewing
// them (their lease ran out), so an admin can start them again.
func (s *Service) EndInterruptedRefreshes(ctx context.Context) (int64, error) {
	return s.db.FailInterruptedRefreshJobs(ctx, "The portal instance running this refresh stopped. Start it again.")
}

// runLeaseChecks looks for refreshes left by stopped instances until ctx ends.
func (s *Service) runLeaseChecks(ctx context.Context) {
	every(ctx, s.cfg.LeaseCheckEvery, func() bool {
		if n, err := s.EndInterruptedRefreshes(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("end interrupted refreshes", "err", err)
		} else if n > 0 {
			s.log.Warn("refreshes of a stopped instance ended", "count", n)
		}
		return true
	})
}

// renewRefresh keeps a running refresh's lease until ctx ends.
func (s *Service) renewRefresh(ctx context.Context, jobID int64) {
	every(ctx, refreshLease/3, func() bool {
		ok, err := s.db.RenewRefreshJob(ctx, jobID, s.holder, s.now().Add(refreshLease))
		if err != nil && ctx.Err() == nil {
			s.log.Warn("renew refresh lease", "job", jobID, "err", err)
		}
		return err != nil || ok // false: finished, or ended by another instance
	})
}

// every calls fn each period until ctx ends or fn returns false; the lease
// renewals and checks above are all this loop.
func every(ctx context.Context, period time.Duration, fn func() bool) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !fn() {
				return
			}
		}
	}
}
