package connections

import (
	"context"
	"errors"
	"strings"

	"github.com/bankconnections/portal/store"
)

// AdminQuery is the admin tab's filter as typed into the page.
type AdminQuery struct {
	State       string
	Institution string // institution id
	Customer    string // a customer's email or guid
	BankLevel   bool
	Cursor      string
}

// AdminList is one page of the admin tab.
type AdminList struct {
	Rows           []store.Account
	CustomerEmails map[string]string
	Counts         map[string]int
	Next           string // cursor of the next page; empty at the end
	Note           string // e.g. an email that matches no customer
}

// PageSize is the admin tab's page size.
const PageSize = 50

func validInstitution(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, ch := range s {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}

func validStateFilter(s string) bool {
	if s == "" {
		return true
	}
	for _, st := range store.States {
		if st == s {
			return true
		}
	}
	return false
}

// Connections returns one page of every connection, with the counts per state.
func (a *Admin) Connections(ctx context.Context, q AdminQuery) (AdminList, error) {
	var out AdminList
	if !validStateFilter(q.State) {
		return out, Refuse(KindInvalid, "bad_state", "Unknown state in the filter.")
	}
	q.Institution = strings.TrimSpace(q.Institution)
	if !validInstitution(q.Institution) {
		return out, Refuse(KindInvalid, "bad_institution", "An institution id looks like ins_109508.")
	}
	f := store.AdminFilter{State: q.State, InstitutionID: q.Institution, BankLevel: q.BankLevel}
	var after *store.Cursor
	if q.Cursor != "" {
		c, err := store.ParseCursor(q.Cursor)
		if err != nil {
			return out, Refuse(KindInvalid, "bad_cursor", "That page link is not valid. Go back to the first page of the list and page from there.")
		}
		after = &c
	}
	counts, err := a.db.StateCounts(ctx)
	if err != nil {
		return out, err
	}
	out.Counts = counts
	if cust := strings.TrimSpace(q.Customer); cust != "" {
		switch {
		case strings.Contains(cust, "@"):
			u, err := a.db.UserByEmail(ctx, cust)
			if errors.Is(err, store.ErrNotFound) || (err == nil && u.CustomerGUID == "") {
				out.Note = "No customer signs in with " + cust + "."
				return out, nil
			}
			if err != nil {
				return out, err
			}
			f.CustomerGUID = u.CustomerGUID
		case store.ValidGUID(strings.ToLower(cust)):
			f.CustomerGUID = strings.ToLower(cust)
		default:
			return out, Refuse(KindInvalid, "bad_customer", "Enter a customer's email address or their 32-character customer id.")
		}
	}
	rows, next, err := a.db.AdminPage(ctx, f, after, PageSize)
	if err != nil {
		return out, err
	}
	out.Rows = rows
	if next != nil {
		out.Next = next.String()
	}
	var guids []string
	seen := map[string]bool{}
	for _, r := range rows {
		if r.CustomerGUID != "" && !seen[r.CustomerGUID] {
			seen[r.CustomerGUID] = true
			guids = append(guids, r.CustomerGUID)
		}
	}
	out.CustomerEmails, err = a.db.CustomerEmails(ctx, guids)
	return out, err
}

// Emails lists the outbox, newest first, optionally one state only.
func (a *Admin) Emails(ctx context.Context, state string) ([]store.Email, error) {
	switch state {
	case "", store.EmailQueued, store.EmailSent, store.EmailFailed:
	default:
		return nil, Refuse(KindInvalid, "bad_state", "Unknown outbox state.")
	}
	return a.db.Emails(ctx, state, 200)
}
