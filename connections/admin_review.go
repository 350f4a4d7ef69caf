package connections

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/store"
)

// LinkReview is the page after an admin updated one of the organization's
// connections in Link: what was updated, or, when Link's selection left the
// connection's own account out, that connection to confirm disconnecting.
// Link's selection speaks only for the Item Link opened (one connection):
// no other connection of the organization is ever listed.
type LinkReview struct {
	SessionID string
	// Status: finishing (the completion is still queued), failed, or ready.
	Status string
	// Message explains a failed completion.
	Message     string
	Updated     store.Account
	HasUpdated  bool
	Selected    []SuccessAccount
	NoSelection bool            // Link reported no account list: nothing is deactivated
	Unselected  []store.Account // the updated connection, when left unselected and still live
	// LeftUnselected: Link's selection left the connection's own account out.
	LeftUnselected bool
	TargetGUID     string
	Deactivated    []store.AuditEntry
	// DeactivatedAccounts are the connections named by Deactivated, by guid.
	DeactivatedAccounts map[string]store.Account
	Confirmed           bool // the admin already answered
}

func (a *Admin) reviewSession(ctx context.Context, admin store.User, id string) (store.LinkSession, store.Completion, error) {
	ls, err := a.db.UserLinkSession(ctx, admin.ID, id)
	if err != nil {
		return ls, store.Completion{}, err
	}
	if ls.CustomerGUID != "" || ls.Mode != ModeUpdate {
		return ls, store.Completion{}, store.ErrNotFound
	}
	c, err := a.db.CompletionForSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ls, c, Refuse(KindConflict, "not_finished", "Link has not finished for this update. Reconnect the connection again from the admin tab.")
	}
	return ls, c, err
}

// LinkReview builds the review of an admin's update of an organization connection.
func (a *Admin) LinkReview(ctx context.Context, admin store.User, id string) (LinkReview, error) {
	r := LinkReview{SessionID: id}
	ls, c, err := a.reviewSession(ctx, admin, id)
	if err != nil {
		return r, err
	}
	switch c.State {
	case store.CompletionQueued:
		r.Status = "finishing"
	case store.CompletionFailed:
		r.Status, r.Message = "failed", completionFailedMessage(c)
	default:
		r.Status = "ready"
	}
	target := c.AccountGUID
	if target == "" {
		target = ls.AccountGUID
	}
	acct, err := a.db.Account(ctx, target)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	found := err == nil
	r.LeftUnselected, r.TargetGUID = c.Unselected, target
	if found && !c.Unselected {
		r.Updated, r.HasUpdated = acct, true
	}
	answered, err := a.db.AuditForRef(ctx, id)
	if err != nil {
		return r, err
	}
	r.DeactivatedAccounts = map[string]store.Account{}
	for _, e := range answered {
		if e.Action == "deactivate" {
			r.Deactivated = append(r.Deactivated, e)
			if acct, err := a.db.Account(ctx, e.AccountGUID); err == nil {
				r.DeactivatedAccounts[e.AccountGUID] = acct
			}
		}
	}
	r.Confirmed = len(answered) > 0
	var sel []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Mask string `json:"mask"`
	}
	if err := json.Unmarshal([]byte(c.SelectedAccounts), &sel); err != nil || len(sel) == 0 {
		r.NoSelection = true
		return r, nil
	}
	for _, s := range sel {
		r.Selected = append(r.Selected, SuccessAccount{ID: s.ID, Name: s.Name, Mask: s.Mask})
	}
	if c.Unselected && found && !rules.Obsolete(acct.State) {
		r.Unselected = []store.Account{acct}
	}
	return r, nil
}

// DeactivateUnselected disconnects the updated connection when the admin
// left its account unselected in Link, audited under the Link session.
func (a *Admin) DeactivateUnselected(ctx context.Context, admin store.User, id string) error {
	r, err := a.LinkReview(ctx, admin, id)
	if err != nil {
		return err
	}
	if r.Status != "ready" {
		return Refuse(KindConflict, "not_ready", "The update is not finished yet: nothing was deactivated. Wait a moment and try again.")
	}
	for _, acct := range r.Unselected {
		if _, err := a.disconnect(ctx, admin, acct, "deactivate", id, ", since it was not selected when the bank login was updated in Link"); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				continue // already gone
			}
			return err
		}
	}
	if len(r.Unselected) == 0 && !r.Confirmed {
		// Nothing to deactivate: still record the admin's answer, so the page confirms.
		detail := "Reviewed the accounts after the Link update: the connection's account stayed selected."
		if r.LeftUnselected {
			detail = "The connection left unselected in Link was already disconnected: nothing more to do."
		}
		_, err := a.audit(ctx, admin, "review", r.TargetGUID, store.AuditOK, detail, id)
		return err
	}
	return nil
}
