package simplatform

import (
	"net/http"
	"strconv"
	"strings"
)

// paging is a list's page (zero-based) and per_page (1..100, default 10).
type paging struct{ page, perPage int }

func parsePaging(r *http.Request) (paging, error) {
	p := paging{page: 0, perPage: 10}
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, errorf(http.StatusBadRequest, codeInvalidValue, "page must be a non-negative integer")
		}
		p.page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return p, errorf(http.StatusBadRequest, codeInvalidValue, "per_page must be between 1 and 100")
		}
		p.perPage = n
	}
	return p, nil
}

// where accumulates SQL conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds "column IN (...)" for a comma-separated filter, validating each value.
func (w *where) in(r *http.Request, param, column string, valid func(string) bool) error {
	raw := r.URL.Query().Get(param)
	if raw == "" {
		return nil
	}
	if len(raw) > 4096 {
		return errorf(http.StatusBadRequest, codeInvalidValue, "%s is longer than 4096 characters", param)
	}
	values := strings.Split(raw, ",")
	for _, v := range values {
		if !valid(v) {
			return errorf(http.StatusBadRequest, codeInvalidValue, "%s has an invalid value: %q", param, v)
		}
	}
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	w.add(column+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(values)), ",")+")", args...)
	return nil
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

func anyValue(s string) bool { return s != "" && len(s) <= 128 }

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errorf(http.StatusBadRequest, codeInvalidValue, "%s must be true or false", name)
	}
	return b, nil
}
