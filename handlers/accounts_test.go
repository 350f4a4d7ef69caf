package handlers

import (
	"strings"
	"testing"

	"github.com/bankconnections/portal/views"
)

func TestKeepOrderKeepsRowsWhereThePageShowsThem(t *testing.T) {
	g := func(c string) string { return strings.Repeat(c, 32) }
	// The server's order: attention first; the page showed b, a, c before b was reconnected.
	rows := []views.AccountRow{{GUID: g("a")}, {GUID: g("c")}, {GUID: ""}, {GUID: g("b")}, {GUID: g("d")}}
	names := func(rs []views.AccountRow) string {
		var out []string
		for _, r := range rs {
			if r.GUID == "" {
				out = append(out, "queued")
			} else {
				out = append(out, r.GUID[:1])
			}
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ order, want string }{
		{"", "a,c,queued,b,d"},
		{g("b") + "," + g("a") + "," + g("c"), "b,a,c,queued,d"},
		{g("b") + ",not-a-guid,," + g("b") + "," + g("c"), "b,c,a,queued,d"},
		{strings.ToUpper(g("c")) + "," + g("e"), "a,c,queued,b,d"},
	} {
		if got := names(keepOrder(rows, c.order)); got != c.want {
			t.Errorf("order %q: got %s, want %s", c.order, got, c.want)
		}
	}
	if names(rows) != "a,c,queued,b,d" {
		t.Errorf("keepOrder changed its input: %s", names(rows))
	}
}
