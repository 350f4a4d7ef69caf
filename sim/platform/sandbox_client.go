package simplatform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Sandbox is a client of the simulator's /sandbox controls, for demos and
// tests. BaseURL is the simulator's origin; HTTP defaults to http.DefaultClient.
type Sandbox struct {
	BaseURL string
	HTTP    *http.Client
}

// PinState puts an account in state (and failure code, may be empty) and
// keeps it there.
func (sb Sandbox) PinState(ctx context.Context, guid, state, failureCode string) error {
	body := map[string]any{"state": state, "failure_code": nil}
	if failureCode != "" {
		body["failure_code"] = failureCode
	}
	return sb.call(ctx, http.MethodPost, "/sandbox/external_bank_accounts/"+guid+"/state", body, nil)
}

// PinTransferState puts a transfer in state (and failure code, may be empty)
// and stops its automatic transitions.
func (sb Sandbox) PinTransferState(ctx context.Context, guid, state, failureCode string) error {
	body := map[string]any{"state": state, "failure_code": nil}
	if failureCode != "" {
		body["failure_code"] = failureCode
	}
	return sb.call(ctx, http.MethodPost, "/sandbox/transfers/"+guid+"/state", body, nil)
}

// SeedAccounts bulk-inserts accounts and returns their guids, oldest first.
func (sb Sandbox) SeedAccounts(ctx context.Context, req SeedRequest) ([]string, error) {
	var out struct {
		GUIDs []string `json:"guids"`
	}
	err := sb.call(ctx, http.MethodPost, "/sandbox/seed_accounts", req, &out)
	return out.GUIDs, err
}

// SetFaults replaces the injected faults.
func (sb Sandbox) SetFaults(ctx context.Context, faults []Fault) error {
	if faults == nil {
		faults = []Fault{}
	}
	return sb.call(ctx, http.MethodPut, "/sandbox/faults", map[string][]Fault{"faults": faults}, nil)
}

// ClearFaults removes every injected fault.
func (sb Sandbox) ClearFaults(ctx context.Context) error {
	return sb.call(ctx, http.MethodDelete, "/sandbox/faults", nil, nil)
}

func (sb Sandbox) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(sb.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := sb.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode >= 300 {
		var e apiError
		if json.Unmarshal(data, &e) == nil && e.MessageCode != "" {
			return fmt.Errorf("sandbox %s %s: %d %s", method, path, resp.StatusCode, e.ErrorMessage)
		}
		return fmt.Errorf("sandbox %s %s: status %d", method, path, resp.StatusCode)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
