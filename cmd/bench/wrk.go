package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// result is one scenario's measurement.
type result struct {
	Requests int64
	Duration time.Duration
	Errors   int64
	P50, P99 time.Duration
}

func (r result) RPS() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration.Seconds()
}

// wrkScript prints wrk's own summary as one JSON line; only done() is
// scripted, so wrk's request loop stays in C.
const wrkScript = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKRESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`

// errNoWrk explains how to get the load tool.
var errNoWrk = errors.New("wrk is not installed: install Debian's wrk (apt-get install -y wrk) and run the benchmark again")

type wrk struct {
	bin, script string
	threads     int
	// ports, when set, are the portal instances the load is split across:
	// wrk's threads connect to them in turn (its setup hook sets each
	// thread's address), so no proxy in front costs CPU of its own.
	ports []string
}

// roundRobinScript gives wrk's threads the instances' addresses in turn.
const roundRobinScript = `
local ports = {%s}
local addrs = nil
local n = 0
setup = function(thread)
  if addrs == nil then
    addrs = {}
    for _, p in ipairs(ports) do
      for _, a in ipairs(wrk.lookup("127.0.0.1", p)) do table.insert(addrs, a) end
    end
  end
  thread.addr = addrs[(n %% #addrs) + 1]
  n = n + 1
end
`

// splitAcross makes every later run spread its load over the instances on ports.
func (w *wrk) splitAcross(dir string, ports []string) error {
	quoted := make([]string, len(ports))
	for i, p := range ports {
		quoted[i] = strconv.Quote(p)
	}
	script := filepath.Join(dir, "roundrobin.lua")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(roundRobinScript, strings.Join(quoted, ", "))+wrkScript), 0o644); err != nil {
		return err
	}
	w.script, w.ports = script, ports
	return nil
}

func newWrk(dir string, threads int) (*wrk, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return nil, errNoWrk
	}
	script := filepath.Join(dir, "summary.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return nil, err
	}
	return &wrk{bin: bin, script: script, threads: threads}, nil
}

// run loads url with conns connections for d. wrk counts socket errors,
// timeouts and statuses of 400 and above; the caller checks separately that
// the cookie still gets the page (a redirect to the login form is a 303).
func (w *wrk) run(ctx context.Context, url string, conns int, d time.Duration, cookie string) (result, error) {
	threads := min(w.threads, conns)
	if n := len(w.ports); n > 0 {
		// Every instance gets the same number of threads (and so of connections).
		threads = max(threads/n, 1) * n
	}
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())),
		"--timeout", "5s", "-s", w.script}
	if cookie != "" {
		args = append(args, "-H", "Cookie: "+cookie)
	}
	args = append(args, url)
	out, err := exec.CommandContext(ctx, w.bin, args...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %v\n%s", url, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		v, ok := strings.CutPrefix(line, "WRKRESULT ")
		if !ok {
			continue
		}
		var s struct {
			Requests                              int64 `json:"requests"`
			DurationUS                            int64 `json:"duration_us"`
			Connect, Read, Write, Status, Timeout int64
			P50US                                 int64 `json:"p50_us"`
			P99US                                 int64 `json:"p99_us"`
		}
		if err := json.Unmarshal([]byte(v), &s); err != nil {
			return result{}, fmt.Errorf("wrk summary %q: %v", v, err)
		}
		return result{Requests: s.Requests, Duration: time.Duration(s.DurationUS) * time.Microsecond,
			Errors: s.Connect + s.Read + s.Write + s.Status + s.Timeout,
			P50:    time.Duration(s.P50US) * time.Microsecond, P99: time.Duration(s.P99US) * time.Microsecond}, nil
	}
	return result{}, fmt.Errorf("wrk printed no summary:\n%s", out)
}
