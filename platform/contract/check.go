package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// route is one operation: its request body and its success answer.
type route struct {
	method, pattern string // pattern segments: literal or {guid}
	request         *Schema
	answer          *Schema
}

var routes = []route{
	{"POST", "/oauth/token", TokenRequest, TokenResponse},
	{"POST", "/api/customer_tokens", PostCustomerToken, CustomerToken},
	{"GET", "/api/customers", nil, CustomerList},
	{"POST", "/api/customers", PostCustomer, Customer},
	{"GET", "/api/customers/{guid}", nil, Customer},
	{"GET", "/api/external_bank_accounts", nil, ExternalBankAccountList},
	{"POST", "/api/external_bank_accounts", PostExternalBankAccount, ExternalBankAccount},
	{"GET", "/api/external_bank_accounts/{guid}", nil, ExternalBankAccount},
	{"PATCH", "/api/external_bank_accounts/{guid}", PatchExternalBankAccount, ExternalBankAccount},
	{"DELETE", "/api/external_bank_accounts/{guid}", nil, ExternalBankAccount},
	{"GET", "/api/workflows", nil, WorkflowsList},
	{"POST", "/api/workflows", PostWorkflow, Workflow},
	{"GET", "/api/workflows/{guid}", nil, WorkflowWithDetails},
	{"GET", "/api/quotes", nil, QuoteList},
	{"POST", "/api/quotes", PostQuote, Quote},
	{"GET", "/api/quotes/{guid}", nil, Quote},
	{"GET", "/api/transfers", nil, TransferList},
	{"POST", "/api/transfers", PostTransfer, Transfer},
	{"GET", "/api/transfers/{guid}", nil, Transfer},
}

// listFilters are the enum-valued filters of list operations (comma-separated).
var listFilters = map[string]map[string][]string{
	"/api/external_bank_accounts": {"state": AccountStates},
	"/api/transfers":              {"state": TransferStates, "side": TransferSides, "transfer_type": TransferTypes},
}

func match(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if ps[i] != "{guid}" && ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// Exchange is one request and its answer as they crossed the wire.
type Exchange struct {
	Method, Path string
	Query        url.Values
	ContentType  string
	Request      []byte
	Status       int
	Answer       []byte
}

// CheckExchange returns every way the exchange breaks the definitions.
// Requests are checked only when the platform accepted them (2xx): a refused
// request may be a test of the refusal. Every answer is checked: an error
// answer against ErrorResponse, a success against the operation's object.
// Paths outside the API (the sandbox controls, Plaid's webhook) are not
// the platform's and are skipped.
func CheckExchange(x Exchange) []string {
	if x.Path != "/oauth/token" && !strings.HasPrefix(x.Path, "/api/") {
		return nil
	}
	where := x.Method + " " + x.Path
	var out []string
	if x.Status < 200 || x.Status > 299 {
		schema := ErrorResponse
		if x.Status == http.StatusTooManyRequests || x.Status >= 500 {
			schema = ServerErrorResponse
		}
		for _, v := range schema.Check(x.Answer) {
			out = append(out, where+" answer: "+v)
		}
		var e struct {
			Status int `json:"status"`
		}
		if json.Unmarshal(x.Answer, &e) == nil && e.Status != 0 && e.Status != x.Status {
			out = append(out, fmt.Sprintf("%s answer: status %d in the body, %d on the wire", where, e.Status, x.Status))
		}
		return out
	}
	var r *route
	for i := range routes {
		if routes[i].method == x.Method && match(routes[i].pattern, x.Path) {
			r = &routes[i]
			break
		}
	}
	if r == nil {
		return []string{where + ": answered " + strconv.Itoa(x.Status) + ", but the definitions have no such operation"}
	}
	if r.request != nil {
		body := x.Request
		if mt, _, _ := mime.ParseMediaType(x.ContentType); x.Path == "/oauth/token" && mt == "application/x-www-form-urlencoded" {
			body = formAsJSON(x.Request)
		}
		for _, v := range r.request.Check(body) {
			out = append(out, where+" request: "+v)
		}
	}
	out = append(out, checkQuery(where, r.pattern, x.Query)...)
	for _, v := range r.answer.Check(x.Answer) {
		out = append(out, where+" answer: "+v)
	}
	return out
}

// checkQuery checks paging (list_request_page.py ≥ 0,
// list_request_per_page.py 1..100) and enum-valued filters.
func checkQuery(where, pattern string, q url.Values) []string {
	var out []string
	if v := q.Get("page"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			out = append(out, where+": page "+v+" is not an integer ≥ 0")
		}
	}
	if v := q.Get("per_page"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 100 {
			out = append(out, where+": per_page "+v+" is not within 1..100")
		}
	}
	for param, enum := range listFilters[pattern] {
		for _, v := range strings.Split(q.Get(param), ",") {
			if v != "" && !slices.Contains(enum, v) {
				out = append(out, fmt.Sprintf("%s: filter %s=%s is not one of %s", where, param, v, strings.Join(enum, ", ")))
			}
		}
	}
	return out
}

func formAsJSON(body []byte) []byte {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return body
	}
	obj := map[string]string{}
	for k := range vals {
		obj[k] = vals.Get(k)
	}
	b, _ := json.Marshal(obj)
	return b
}

// Middleware wraps the simulator's handler: every exchange is checked, and
// the violations fail t when it ends (register it before the server's own
// cleanup so the check runs after the server stopped).
func Middleware(t testing.TB, next http.Handler) http.Handler {
	var mu sync.Mutex
	var violations []string
	checked := 0
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		t.Logf("platform contract: %d exchanges checked, %d violations", checked, len(violations))
		for _, v := range violations {
			t.Errorf("platform contract: %s", v)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req []byte
		if r.Body != nil {
			req, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(req))
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if r.Context().Err() != nil {
			return // the client gave up (a timeout test): there is no answer to check
		}
		v := CheckExchange(Exchange{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), ContentType: r.Header.Get("Content-Type"),
			Request: req, Status: rec.status, Answer: rec.body.Bytes()})
		mu.Lock()
		if r.URL.Path == "/oauth/token" || strings.HasPrefix(r.URL.Path, "/api/") {
			checked++
		}
		violations = append(violations, v...)
		mu.Unlock()
	})
}

type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Flush keeps streaming handlers working behind the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
