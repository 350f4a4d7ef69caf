package connections

import (
	"context"
	"time"

	"github.com/bankconnections/portal/store"
)

// InstitutionLookup asks Plaid for an institution's name
// (/institutions/get_by_id). The platform's accounts carry only the
// institution's id; names come from Link's metadata when a customer links,
// and from this lookup for connections made elsewhere.
type InstitutionLookup func(ctx context.Context, institutionID string) (string, error)

const (
	// lookupsPerSync bounds the Plaid calls one sync makes for names.
	lookupsPerSync = 10
	lookupTimeout  = 5 * time.Second
	// lookupRetry is how long an institution whose lookup failed is left alone.
	lookupRetry = 10 * time.Minute
)

// nameInstitutions gives connections without an institution name the one
// another connection at the same institution has, or else Plaid's. A failure
// leaves the name empty (pages then say "your bank" or show the id) and is
// tried again later; it never fails the sync.
func (s *Service) nameInstitutions(ctx context.Context) {
	unnamed, err := s.db.UnnamedInstitutions(ctx)
	if err != nil {
		s.log.Warn("institution names: list", "err", err)
		return
	}
	lookups := 0
	for _, in := range unnamed {
		name := in.Name
		if name == "" {
			if s.cfg.Institutions == nil || lookups >= lookupsPerSync || !s.lookupDue(in.ID) {
				continue
			}
			lookups++
			lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			name, err = s.cfg.Institutions(lctx, in.ID)
			cancel()
			if err != nil || name == "" {
				s.lookupFailed(in.ID)
				s.log.Warn("institution name lookup failed", "institution_id", in.ID, "err", err)
				continue
			}
		}
		if err := s.db.NameInstitution(ctx, in.ID, name); err != nil {
			s.log.Warn("institution names: save", "institution_id", in.ID, "err", err)
			return
		}
	}
}

func (s *Service) lookupDue(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, failed := s.lookupFailures[id]
	return !failed || s.now().Sub(at) >= lookupRetry
}

func (s *Service) lookupFailed(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lookupFailures == nil {
		s.lookupFailures = map[string]time.Time{}
	}
	s.lookupFailures[id] = s.now()
}

// Institutions lists the institutions of the connections in the store, for
// the admin tab's filter.
func (a *Admin) Institutions(ctx context.Context) ([]store.Institution, error) {
	return a.s.db.Institutions(ctx)
}

// SandboxBank tells whether a connection is at a sandbox bank of the
// platform (its environment is sandbox), the only kind the platform lets an
// admin force into refresh_required; never a production bank.
func SandboxBank(a store.Account) bool { return a.Environment == "sandbox" }
