package rules_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/rules"
)

func TestActionsPerState(t *testing.T) {
	join := func(as []rules.Action) string {
		var s []string
		for _, a := range as {
			s = append(s, string(a))
		}
		return strings.Join(s, " ")
	}
	cases := []struct {
		subject rules.AdminSubject
		want    string
	}{
		{rules.AdminSubject{State: rules.Completed, BankLevel: true, Sandbox: true}, "update refresh force_refresh_required disconnect"},
		{rules.AdminSubject{State: rules.Unverified, BankLevel: true}, "update refresh disconnect"},
		{rules.AdminSubject{State: rules.RefreshRequired, BankLevel: true, Sandbox: true}, "update refresh disconnect"},
		{rules.AdminSubject{State: rules.RefreshRequired, Sandbox: true}, "remind refresh disconnect"},
		{rules.AdminSubject{State: rules.RefreshRequired, RefreshRunning: true}, "remind disconnect"},
		{rules.AdminSubject{State: rules.Completed}, "refresh disconnect"},
		{rules.AdminSubject{State: rules.Storing, BankLevel: true, Sandbox: true}, "disconnect"},
		{rules.AdminSubject{State: rules.Failed, BankLevel: true}, "disconnect"},
		{rules.AdminSubject{State: rules.Deleting, BankLevel: true, Sandbox: true}, ""},
		{rules.AdminSubject{State: rules.Deleted, Sandbox: true}, ""},
	}
	for _, c := range cases {
		if got := join(rules.AdminActions(c.subject)); got != c.want {
			t.Errorf("admin actions for %+v: got %q, want %q", c.subject, got, c.want)
		}
	}
	if got := rules.CustomerActions(rules.CustomerSubject{State: rules.RefreshRequired, Finishing: true}); len(got) != 0 {
		t.Errorf("customer actions while a reconnect is finishing: got %v, want none", got)
	}
	for state, want := range map[string]string{rules.RefreshRequired: "reconnect", rules.Failed: "link_again", rules.Deleted: "link_again hide",
		rules.Completed: "", rules.Unverified: "", rules.Storing: "", rules.Deleting: ""} {
		if got := join(rules.CustomerActions(rules.CustomerSubject{State: state})); got != want {
			t.Errorf("customer actions for %s: got %q, want %q", state, got, want)
		}
	}
}

func TestWordsForPeople(t *testing.T) {
	for _, s := range rules.States {
		if rules.Label(s) == "Unknown" || strings.Contains(rules.Label(s), "_") {
			t.Errorf("label of %s: %q", s, rules.Label(s))
		}
	}
	if got := rules.FailureText("duplicate"); strings.Contains(got, "already connected") {
		t.Errorf("a failed connection claims to be connected: %q", got)
	}
	for _, by := range []string{"admin", "customer", "sync", ""} {
		if got := rules.DisconnectedReason(by); strings.Contains(got, "Reconnect") || !strings.Contains(got, "ink the account again") {
			t.Errorf("disconnected by %q: %q", by, got)
		}
	}
	for _, a := range []rules.Action{rules.Reconnect, rules.Update, rules.Remind, rules.Refresh, rules.ForceRefreshRequired, rules.Disconnect, rules.Hide} {
		if got := rules.Refusal(a, rules.Deleted, false); got == "" || strings.Contains(got, "Conflict") {
			t.Errorf("refusal of %s: %q", a, got)
		}
	}
	for _, c := range []struct {
		cents *int64
		want  string
	}{{nil, "—"}, {ptr(0), "$0.00"}, {ptr(123456), "$1,234.56"}, {ptr(1000000), "$10,000.00"}, {ptr(-5), "-$0.05"}} {
		if got := rules.Money(c.cents); got != c.want {
			t.Errorf("money %v: got %q, want %q", c.cents, got, c.want)
		}
	}
	if got := rules.When(time.Date(2026, 11, 29, 18, 5, 0, 0, time.FixedZone("X", 3600))); got != "Nov 29, 2026 17:05 UTC" {
		t.Errorf("when: got %q", got)
	}
	if got := fmt.Sprint(rules.When(time.Time{})); got != "never" {
		t.Errorf("zero time: got %q", got)
	}
}

func ptr(n int64) *int64 { return &n }
