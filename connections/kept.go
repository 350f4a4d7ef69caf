package connections

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/bankconnections/portal/store"
)

// KeepResult keeps a Link result whose request was refused before it could be
// completed (the session had ended, or its CSRF token was stale): Link cannot
// give the result again. It is kept only when the request's session cookie,
// live or not, belongs to the link session's owner, and it is finished by
// FinishKept at that user's next sign-in. It reports whether it was kept.
func (s *Service) KeepResult(ctx context.Context, sessionID, linkSessionID string, in Success) (bool, error) {
	if sessionID == "" {
		return false, nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return false, err
	}
	return s.db.KeepLinkResult(ctx, sessionID, linkSessionID, string(b))
}

// FinishKept completes every kept Link result of the user, as if the browser
// had posted it now, and reports how many were finished. A result the domain
// refuses (say, a duplicate) is dropped: the person starts Link again.
func (s *Service) FinishKept(ctx context.Context, u store.User) (int, error) {
	kept, err := s.db.KeptLinkResults(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range kept {
		var in Success
		if err := json.Unmarshal([]byte(k.Result), &in); err != nil {
			s.log.Error("kept link result unreadable", "link_session", k.LinkSessionID, "err", err)
		} else if _, err := s.Complete(ctx, u, k.LinkSessionID, in); err != nil {
			var refused *Error
			if !errors.As(err, &refused) && !errors.Is(err, store.ErrNotFound) {
				return n, err // the store failed: keep it for the next sign-in
			}
			s.log.Warn("kept link result refused", "link_session", k.LinkSessionID, "err", err)
		} else {
			n++
		}
		if err := s.db.DeleteKeptLinkResult(ctx, k.LinkSessionID); err != nil {
			return n, err
		}
	}
	return n, nil
}
