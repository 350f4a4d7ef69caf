package archtest

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// guarded are the libraries whose use says who owns what: a package imports
// them (or a package under them) only where its README row allows it.
var guarded = []string{
	"database/sql",
	"modernc.org/sqlite",
	"github.com/jackc/pgx/v5",
	"github.com/labstack/echo/v4",
	"github.com/wneessen/go-mail",
	"net/smtp",
	"github.com/plaid/plaid-go/v20",
}

// row is one package's line of the README's layout table; rows are in table order.
type row struct {
	pkg   string
	allow []string // packages of ours (relative paths) and guarded libraries
}

// pkg is a package of the module as go list sees it (paths relative to the module).
type pkg struct {
	path    string
	imports []string // direct imports; ours relative, others as they are
	deps    []string // every transitive dependency, the same way
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readLayout parses the table of the README's "## Layout" section.
func readLayout(t *testing.T, readme []byte) []row {
	t.Helper()
	var rows []row
	in := false
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Layout"
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("README layout row %q: want 3 cells (package, owns, may import)", line)
		}
		var allow []string
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			allow = append(allow, m[1])
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[0], -1) {
			rows = append(rows, row{pkg: m[1], allow: allow})
		}
	}
	if len(rows) == 0 {
		t.Fatal("the README has no layout table under ## Layout")
	}
	return rows
}

// listPackages runs go list over the module.
func listPackages(t *testing.T, root string) []pkg {
	t.Helper()
	run := func(args ...string) string {
		cmd := exec.Command("go", args...) // go test puts its own go first on PATH
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	statSources(t, root)
	module := strings.TrimSpace(run("list", "-m"))
	rel := func(p string) string {
		if p == module {
			return "."
		}
		if r, ok := strings.CutPrefix(p, module+"/"); ok {
			return r
		}
		return p
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(run("list", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", "./...")), "\n") {
		f := strings.Split(line, "\t")
		p := pkg{path: rel(f[0])}
		for _, i := range strings.Fields(f[1]) {
			p.imports = append(p.imports, rel(i))
		}
		for _, d := range strings.Fields(f[2]) {
			p.deps = append(p.deps, rel(d))
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func isGuarded(imp string) bool {
	for _, g := range guarded {
		if imp == g || strings.HasPrefix(imp, g+"/") {
			return true
		}
	}
	return false
}

func allowed(r row, imp string) bool {
	for _, a := range r.allow {
		if imp == a || (isGuarded(a) && strings.HasPrefix(imp, a+"/")) {
			return true
		}
	}
	return false
}

// violations compares the packages with the table and with the design's
// fixed rules, and describes each breach.
func violations(rows []row, pkgs []pkg) []string {
	var out []string
	index := map[string]int{}
	for i, r := range rows {
		index[r.pkg] = i
	}
	listed := map[string]bool{}
	for _, p := range pkgs {
		listed[p.path] = true
	}
	ours := func(p string) bool { _, inTable := index[p]; return inTable || listed[p] }
	for _, p := range pkgs {
		i, ok := index[p.path]
		if !ok {
			out = append(out, p.path+": not in the README's layout table")
			continue
		}
		r := rows[i]
		for _, imp := range p.imports {
			switch {
			case p.path == "handlers" && imp == "database/sql":
				out = append(out, "handlers imports database/sql: handlers never write SQL")
			case ours(imp) && !allowed(r, imp):
				out = append(out, p.path+" imports "+imp+": its README row does not allow it")
			case ours(imp) && index[imp] <= i:
				out = append(out, p.path+" imports "+imp+", which is not below it in the README's table")
			case !ours(imp) && isGuarded(imp) && !allowed(r, imp):
				out = append(out, p.path+" imports "+imp+": its README row does not allow it")
			}
		}
		// The design's rules hold whatever the table says.
		for _, d := range p.deps {
			switch {
			case p.path == "views" && (d == "store" || strings.HasPrefix(d, "github.com/labstack/echo/")):
				out = append(out, "views depends on "+d+": views are pure functions of their arguments")
			case strings.HasPrefix(d, "sim/") && !strings.HasPrefix(p.path, "cmd/") && !strings.HasPrefix(p.path, "sim/"):
				out = append(out, p.path+" depends on "+d+": only cmd/* and tests use the simulators")
			case d == "internal/testutil":
				out = append(out, p.path+" depends on internal/testutil: it is for tests only")
			}
		}
	}
	for _, r := range rows {
		if !listed[r.pkg] {
			out = append(out, r.pkg+": in the README's layout table but not a package")
		}
	}
	return out
}

func TestImportsFollowTheREADMELayout(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := readLayout(t, readme)
	pkgs := listPackages(t, root)
	for _, v := range violations(rows, pkgs) {
		t.Error(v)
	}
	t.Logf("%d packages checked against %d rows", len(pkgs), len(rows))
}

// The checker itself: each kind of breach is reported.
func TestViolationsAreReported(t *testing.T) {
	rows := []row{
		{pkg: "handlers", allow: []string{"views", "store", "github.com/labstack/echo/v4"}},
		{pkg: "views"},
		{pkg: "store", allow: []string{"database/sql", "handlers"}}, // a row that wrongly allows an upward import
		{pkg: "sim/platform"},
		{pkg: "gone"},
	}
	tests := []struct {
		name string
		pkgs []pkg
		want string
	}{
		{"import not allowed", []pkg{{path: "views", imports: []string{"store"}, deps: []string{"store"}}}, "views imports store: its README row does not allow it"},
		{"import upward", []pkg{{path: "store", imports: []string{"handlers"}}}, "store imports handlers, which is not below it in the README's table"},
		{"guarded library", []pkg{{path: "handlers", imports: []string{"database/sql"}, deps: []string{"database/sql"}}}, "handlers imports database/sql: handlers never write SQL"},
		{"guarded subpackage allowed", []pkg{{path: "handlers", imports: []string{"github.com/labstack/echo/v4/middleware"}}}, ""},
		{"views reach echo", []pkg{{path: "views", deps: []string{"github.com/labstack/echo/v4"}}}, "views depends on github.com/labstack/echo/v4: views are pure functions of their arguments"},
		{"simulator outside cmd", []pkg{{path: "handlers", deps: []string{"sim/platform"}}}, "handlers depends on sim/platform: only cmd/* and tests use the simulators"},
		{"package missing from the table", []pkg{{path: "extra"}}, "extra: not in the README's layout table"},
		{"row without a package", nil, "gone: in the README's layout table but not a package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violations(rows, tt.pkgs)
			if tt.want == "" {
				for _, v := range got {
					if !strings.HasSuffix(v, "not a package") {
						t.Errorf("unexpected violation %q", v)
					}
				}
				return
			}
			if !slices.Contains(got, tt.want) {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

// statSources looks at every Go file and go.mod, so that go test's cache,
// which cannot see what the go list child reads, knows this test depends on them.
func statSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
