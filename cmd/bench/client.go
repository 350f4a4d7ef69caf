package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// session is a signed-in browser without the browser: the cookies of a real login.
type session struct {
	base   string
	client *http.Client
	csrf   string
}

func login(ctx context.Context, base, email, password string) (*session, error) {
	jar, _ := cookiejar.New(nil)
	s := &session{base: base, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64}}}
	_, page, err := s.get(ctx, "/login")
	if err != nil {
		return nil, err
	}
	if s.csrf = csrfToken(page); s.csrf == "" {
		return nil, fmt.Errorf("GET /login has no CSRF token")
	}
	form := url.Values{"email": {email}, "password": {password}, "_csrf": {s.csrf}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || s.cookie("portal_session") == "" {
		return nil, fmt.Errorf("login as %s: status %d, no session cookie", email, resp.StatusCode)
	}
	// The token belongs to the session, which sign-in renews: read it from a page of the new session.
	_, page, err = s.get(ctx, "/account/password")
	if err != nil {
		return nil, err
	}
	if s.csrf = csrfToken(page); s.csrf == "" {
		return nil, fmt.Errorf("no CSRF token after signing in as %s", email)
	}
	return s, nil
}

var csrfMeta = regexp.MustCompile(`name="csrf-token" content="([0-9a-f]+)"`)

// csrfToken is the CSRF token a page carries ("" for none).
func csrfToken(page string) string {
	if m := csrfMeta.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

func (s *session) cookie(name string) string {
	u, _ := url.Parse(s.base)
	for _, c := range s.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// header is the Cookie header of this session, for the load tool.
func (s *session) header() string {
	return "portal_session=" + s.cookie("portal_session")
}

func (s *session) get(ctx context.Context, path string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (s *session) postJSON(ctx context.Context, path string, body any, out any) (int, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", s.csrf)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: %v", path, err)
		}
	}
	return resp.StatusCode, nil
}

// expectPage checks that the session gets path with status 200 and at least
// rows elements carrying the data-testid.
func (s *session) expectPage(ctx context.Context, path, testID string, rows int) error {
	status, body, err := s.get(ctx, path)
	if err != nil {
		return err
	}
	n := strings.Count(body, `data-testid="`+testID+`"`)
	if status != http.StatusOK || n < rows {
		return fmt.Errorf("GET %s: status %d with %d %s rows, want 200 with %d", path, status, n, testID, rows)
	}
	return nil
}

// latencies collects durations of one kind of request.
type latencies struct {
	mu     sync.Mutex
	d      []time.Duration
	errors atomic.Int64
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) result(total time.Duration) result {
	l.mu.Lock()
	defer l.mu.Unlock()
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	r := result{Requests: int64(len(l.d)), Duration: total, Errors: l.errors.Load()}
	if len(l.d) > 0 {
		r.P50 = l.d[len(l.d)*50/100]
		r.P99 = l.d[min(len(l.d)-1, len(l.d)*99/100)]
	}
	return r
}

// linkFlows drives the Link completion endpoints as the page's glue does,
// without the browser: POST /link/sessions (the portal asks the simulator for
// a link token), poll GET /link/sessions/:id until it is ready, then POST the
// onSuccess result to .../complete (the portal creates the account on the
// simulator). workers flows run at a time until d has passed.
func linkFlows(ctx context.Context, s *session, workers int, d time.Duration) (startL, pollL, completeL *latencies, flows int64, err error) {
	startL, pollL, completeL = &latencies{}, &latencies{}, &latencies{}
	var n, seq atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := oneLinkFlow(ctx, s, seq.Add(1), startL, pollL, completeL); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return // one error is reported; a broken flow is not load
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok && e != nil {
		err = e
	}
	return startL, pollL, completeL, n.Load(), err
}

func oneLinkFlow(ctx context.Context, s *session, i int64, startL, pollL, completeL *latencies) error {
	type lsJSON struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		LinkToken string `json:"link_token"`
	}
	var ls lsJSON
	t := time.Now()
	status, err := s.postJSON(ctx, "/link/sessions", map[string]string{"mode": "create"}, &ls)
	if err != nil || status != http.StatusCreated {
		startL.errors.Add(1)
		return fmt.Errorf("POST /link/sessions: status %d, %v", status, err)
	}
	startL.add(time.Since(t))
	for ls.State != "ready" {
		if ls.State == "failed" {
			return fmt.Errorf("link session %s failed", ls.ID)
		}
		time.Sleep(50 * time.Millisecond)
		t = time.Now()
		code, body, err := s.get(ctx, "/link/sessions/"+ls.ID)
		if err != nil || code != http.StatusOK {
			pollL.errors.Add(1)
			return fmt.Errorf("GET /link/sessions/%s: status %d, %v", ls.ID, code, err)
		}
		pollL.add(time.Since(t))
		if err := json.Unmarshal([]byte(body), &ls); err != nil {
			return err
		}
	}
	success := map[string]any{
		"public_token": fmt.Sprintf("public-sandbox-bench-%d-%d", time.Now().UnixNano(), i),
		"metadata": map[string]any{
			"institution": map[string]string{"name": "First Platypus Bank", "institution_id": "ins_109508"},
			"accounts":    []map[string]string{{"id": "fallback-checking-0000", "name": "Plaid Checking", "mask": fmt.Sprintf("%04d", i%10000), "type": "depository", "subtype": "checking"}},
		},
	}
	var done struct {
		Status string `json:"status"`
	}
	t = time.Now()
	status, err = s.postJSON(ctx, "/link/sessions/"+ls.ID+"/complete", success, &done)
	if err != nil || status != http.StatusOK {
		completeL.errors.Add(1)
		return fmt.Errorf("POST complete: status %d, %v", status, err)
	}
	completeL.add(time.Since(t))
	return nil
}
