package archtest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's test command is the one .ci/run runs, so a reader's run and
// CI's cannot drift apart (e.g. CI dropping the race detector).
func TestCIRunsTheREADMETestCommand(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	// The first indented go test command after "Run the tests".
	_, rest, ok := strings.Cut(string(readme), "Run the tests")
	m := regexp.MustCompile(`(?m)^    (go test [^\n]*)$`).FindStringSubmatch(rest)
	if !ok || m == nil {
		t.Fatal(`the README has no "Run the tests" section with an indented go test command`)
	}
	command := m[1]
	if !strings.Contains(command, "-race") {
		t.Errorf("README test command %q: want the race detector (-race)", command)
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(command) + `$`).Match(ci) {
		t.Errorf(".ci/run does not run the README's test command %q", command)
	}
}
