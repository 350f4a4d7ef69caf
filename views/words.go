package views

import (
	"time"

	"github.com/a-h/templ"
)

// The page's words for what is not there yet: a time that never happened is
// said as what it means for the customer, never "as of never".

func balancesAsOf(t *time.Time) string {
	if t == nil {
		return "Not received from the bank yet"
	}
	return When(*t)
}

func lastUpdatedText(t *time.Time) string {
	if t == nil {
		return "Not yet checked with the bank platform."
	}
	return "Last updated " + When(*t) + "."
}

func staleText(t *time.Time) string {
	if t == nil {
		return "We could not reach the bank platform just now, so this list may be incomplete. It updates by itself when the platform answers."
	}
	return "We could not reach the bank platform just now. This is what we knew as of " + When(*t) + "."
}

// unverifiedText says what an Unverified connection means and what the customer can do.
const unverifiedText = "Not verified yet: the bank platform is still checking this account, so no money can move with it. " +
	"You do not need to do anything now. If it is still unverified after two business days, link the account again or contact us."

// loginFieldError ties a refused sign-in's message to both fields: which of
// the two was wrong is not said, on purpose.
func loginFieldError(v LoginView) templ.Attributes {
	if v.Error == "" {
		return nil
	}
	return templ.Attributes{"aria-invalid": "true", "aria-describedby": "login-error"}
}

// ariaCurrent marks the current item of a set of links ("page" for a
// section, "true" for the chosen filter); an empty aria-current would mean
// false, so the attribute is left out otherwise.
func ariaCurrent(current bool, value string) templ.Attributes {
	if !current {
		return nil
	}
	return templ.Attributes{"aria-current": value}
}
