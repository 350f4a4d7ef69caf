package views

import (
	"strconv"
	"strings"

	"github.com/bankconnections/portal/rules"
)

// The live part of a page ([data-live]) is refreshed by htmx while something
// in it is in motion, and morphed in place (idiomorph), so focus, scroll and
// what is being typed survive; once nothing is in motion the server renders
// it without the timer and the polling stops.

// rowInMotion tells whether a connection is waiting on the platform.
func rowInMotion(r AccountRow) bool {
	return r.Finishing || r.State == "storing" || r.State == "deleting"
}

func transfersInMotion(ts []TransferRow) bool {
	for _, t := range ts {
		if t.State == "storing" || t.State == "pending" || t.State == "submitting" {
			return true
		}
	}
	return false
}

// InMotion tells whether the accounts page should keep refreshing itself.
func (v AccountsView) InMotion() bool {
	for _, r := range v.Rows {
		if rowInMotion(r) {
			return true
		}
	}
	return transfersInMotion(v.Transfers)
}

// InMotion tells whether a connection's page should keep refreshing itself.
func (v AccountView) InMotion() bool {
	return rowInMotion(v.Row) || transfersInMotion(v.Transfer.Transfers)
}

// liveTrigger is the live region's htmx trigger: a "refresh" event (sent by
// the Link glue after a flow ends) always, a timer only while in motion.
func liveTrigger(inMotion bool) string {
	if inMotion {
		return "refresh, every 2s"
	}
	return "refresh"
}

// htmxConfig is read by htmx from its meta tag: no eval (hx-on, js: values),
// no script tags run from swapped content, no style element of its own, and
// no history snapshots; so it runs under the CSP without 'unsafe-eval' or
// 'unsafe-inline'.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyEnabled":false,"historyCacheSize":0,"selfRequestsOnly":true}`

// timelineWords are the words of the admin timeline for platform states.
var timelineWords = map[string]string{
	"refresh_required": "Needs reconnecting",
}

// timelineTitle writes a timeline entry's title in words: state changes and
// banners carry the platform's state codes, which people should not have to read.
func timelineTitle(e TimelineEntry) string {
	if e.Kind != "state" && e.Kind != "notification" {
		return e.Title
	}
	t := e.Title
	for _, code := range rules.States {
		w, ok := timelineWords[code]
		if !ok {
			w = StateLabel(code)
		}
		t = strings.ReplaceAll(t, code, w)
	}
	return t
}

// pageTitle is the document title: the page's own, then the site's, said once.
func pageTitle(title string) string {
	const site = "Bank connections"
	if title == "" || title == site {
		return site
	}
	return title + " · " + site
}

// rowID gives a connection's row a stable id, so the morph matches the row
// to itself across refreshes; a row without a guid yet (a queued new
// account) is told apart by when it was queued. A plain string, not an
// attribute map: this is rendered for every row of the busiest page.
func rowID(r AccountRow) string {
	if r.GUID == "" {
		return "row-new-" + strconv.FormatInt(r.UpdatedAt.UnixNano(), 36)
	}
	return "row-" + r.GUID
}
