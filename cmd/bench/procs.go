package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fixed simulator credentials: the benchmark owns both sides.
const (
	simClientID     = "bench-client-0001"
	simClientSecret = "bench-secret-0001-bench-secret-0001"
)

// sessionKey is a fixed PORTAL_SESSION_KEY (128 hex characters) for the benchmark's portals.
func sessionKey() string { return strings.Repeat("ab", 64) }

// buildBinaries compiles the portal and the platform simulator into dir.
func buildBinaries(ctx context.Context, dir string) (portalBin, simBin string, err error) {
	portalBin, simBin = filepath.Join(dir, "portal"), filepath.Join(dir, "platformsim")
	for _, b := range []struct{ out, pkg string }{{portalBin, "github.com/bankconnections/portal/cmd/portal"}, {simBin, "github.com/bankconnections/portal/cmd/platformsim"}} {
		out, err := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg).CombinedOutput()
		if err != nil {
			return "", "", fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return portalBin, simBin, nil
}

// process is a child the benchmark started; stop ends it with SIGINT.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  strings.Builder // the tail of its output, for error messages
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log.Len() > 64<<10 {
		s := p.log.String()
		p.log.Reset()
		p.log.WriteString(s[len(s)-32<<10:])
	}
	return p.log.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// start runs bin; every output line also goes to onLine (may be nil).
func start(bin string, args, env []string, onLine func(string)) (*process, error) {
	p := &process{done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.Write([]byte(line + "\n"))
			if onLine != nil {
				onLine(line)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() { p.cmd.Wait(); pw.Close(); close(p.done) }()
	return p, nil
}

// simulator is a running platform simulator.
type simulator struct {
	*process
	URL, BankGUID string
}

// startSimulator runs the simulator; redirectURI is the portal's OAuth return
// page, which link token workflows name.
func startSimulator(bin, dataDir, redirectURI string) (*simulator, error) {
	s := &simulator{}
	ready := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	p, err := start(bin, []string{"-addr", "127.0.0.1:0", "-data", dataDir, "-redirect-uri", redirectURI},
		[]string{"PLATFORMSIM_CLIENT_ID=" + simClientID, "PLATFORMSIM_CLIENT_SECRET=" + simClientSecret},
		func(line string) {
			mu.Lock()
			defer mu.Unlock()
			line = strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(line, "API URL:"); ok {
				s.URL = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "bank guid:"); ok {
				s.BankGUID = strings.TrimSpace(v)
				once.Do(func() { close(ready) })
			}
		})
	if err != nil {
		return nil, err
	}
	s.process = p
	select {
	case <-ready:
	case <-p.done:
		return nil, fmt.Errorf("platform simulator exited:\n%s", p.output())
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, fmt.Errorf("platform simulator did not start:\n%s", p.output())
	}
	mu.Lock()
	defer mu.Unlock()
	return s, nil
}

// portalProc is a running portal in live mode.
type portalProc struct {
	*process
	URL       string
	ColdStart time.Duration // exec to the first 200 from /healthz
}

// startPortal runs the portal binary on port against platformURL and waits for /healthz.
// databaseURL is a postgres:// URL, or "" for SQLite in dataDir.
func startPortal(bin, port, dataDir, databaseURL, platformURL, bankGUID, syncInterval string, onLine func(string)) (*portalProc, error) {
	url := "http://127.0.0.1:" + port
	env := []string{
		"PLATFORM_URL=" + platformURL, "PLATFORM_TOKEN_URL=" + platformURL + "/oauth/token",
		"PLATFORM_CLIENT_ID=" + simClientID, "PLATFORM_CLIENT_SECRET=" + simClientSecret, "PLATFORM_BANK_GUID=" + bankGUID,
		"PORTAL_SESSION_KEY=" + sessionKey(), "PORTAL_DATABASE_URL=" + databaseURL,
	}
	// The portals under load log at info, as a deployment does: at debug every
	// request writes a line, and those lines cross a pipe into this process,
	// which made the admin pages' p99 on two CPUs 40–760 ms instead of 20–30 ms.
	// The full sync's portal logs at debug: its "sync done" line is the figure.
	level := "info"
	if onLine != nil {
		level = "debug"
	}
	args := []string{"-addr", "127.0.0.1:" + port, "-data", dataDir, "-log-level", level, "-sync-interval", syncInterval}
	began := time.Now()
	p, err := start(bin, args, env, onLine)
	if err != nil {
		return nil, err
	}
	pp := &portalProc{process: p, URL: url}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(url + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				pp.ColdStart = time.Since(began)
				return pp, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("portal exited:\n%s", p.output())
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("portal did not answer /healthz within 60s:\n%s", p.output())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

// peakRSS reads the high-water mark of a process's resident set (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fields := strings.Fields(v)
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}
