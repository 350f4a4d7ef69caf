package simplaid

import "strings"

// institution is one bank the stand-in knows; ids are Plaid sandbox ids
// where Plaid has one.
type institution struct {
	ID   string
	Name string
	// OAuth banks send the user to the bank and back to the redirect_uri.
	OAuth bool
	// AlwaysMFA adds the one-time-code step even for pass_good.
	AlwaysMFA bool
	// Accounts in the order they are offered; the first one is what a
	// sandbox public token shares unless the username asks for all.
	Accounts []accountTemplate
}

type accountTemplate struct {
	Name      string
	Mask      string
	Type      string
	Subtype   string
	Available *float64
	Current   float64
	Limit     *float64
}

func f(v float64) *float64 { return &v }

func depository(checkingName, checkingMask, savingsName, savingsMask string) []accountTemplate {
	return []accountTemplate{
		{Name: checkingName, Mask: checkingMask, Type: "depository", Subtype: "checking", Available: f(100), Current: 110},
		{Name: savingsName, Mask: savingsMask, Type: "depository", Subtype: "savings", Available: f(200), Current: 210},
	}
}

var institutions = []institution{
	{ID: "ins_109508", Name: "First Platypus Bank", Accounts: depository("Plaid Checking", "0000", "Plaid Saving", "1111")},
	{ID: "ins_127287", Name: "Platypus OAuth Bank", OAuth: true, Accounts: depository("Platypus OAuth Checking", "4455", "Platypus OAuth Savings", "6677")},
	{ID: "ins_128026", Name: "Capital One", Accounts: []accountTemplate{
		{Name: "Quicksilver Card", Mask: "4821", Type: "credit", Subtype: "credit card", Available: f(1590), Current: 410, Limit: f(2000)},
		{Name: "Venture Card", Mask: "9034", Type: "credit", Subtype: "credit card", Available: f(4200), Current: 800, Limit: f(5000)},
	}},
	{ID: "ins_109510", Name: "Tattersall Federal Credit Union", AlwaysMFA: true, Accounts: depository("Tattersall Share Draft", "2468", "Tattersall Share Savings", "1357")},
	{ID: "ins_109509", Name: "First Gingham Credit Union", Accounts: depository("Gingham Everyday Checking", "3141", "Gingham High Yield Savings", "2718")},
	{ID: "ins_109511", Name: "Tartan Bank", Accounts: depository("Tartan Checking", "8080", "Tartan Savings", "9090")},
	{ID: "ins_109512", Name: "Houndstooth Bank", Accounts: depository("Houndstooth Checking", "5150", "Houndstooth Money Market", "6160")},
}

func institutionByID(id string) *institution {
	for i := range institutions {
		if institutions[i].ID == id {
			return &institutions[i]
		}
	}
	return nil
}

// searchInstitutions matches the query against names, case-insensitively;
// an empty query lists every institution.
func searchInstitutions(q string) []*institution {
	q = strings.ToLower(strings.TrimSpace(q))
	var out []*institution
	for i := range institutions {
		if q == "" || strings.Contains(strings.ToLower(institutions[i].Name), q) || institutions[i].ID == q {
			out = append(out, &institutions[i])
		}
	}
	return out
}

// onlyNonDepository reports whether every shared account is non-depository
// (what makes Capital One refuse /transactions/refresh).
func (it *item) onlyNonDepository() bool {
	for _, a := range it.sharedAccounts() {
		if a.Type == "depository" {
			return false
		}
	}
	return true
}
