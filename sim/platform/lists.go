package simplatform

import (
	"fmt"
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

// listPage answers one page of a list endpoint over table: how many rows wh
// selects and the page's rows, newest first, in the contract's list envelope.
// scan reads a row of columns; toJSON shapes it for the answer.
func listPage[T, J any](s *Server, w http.ResponseWriter, r *http.Request, table, columns string, wh where, pg paging,
	scan func(interface{ Scan(...any) error }) (T, error), toJSON func(T) J) {
	ctx := r.Context()
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE `+wh.sql(), wh.args...).Scan(&total); err != nil {
		s.fail(w, r, fmt.Errorf("list %s: %w", table, err))
		return
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM `+table+` WHERE `+wh.sql()+
		` ORDER BY seq DESC LIMIT ? OFFSET ?`, append(wh.args, pg.perPage, pg.page*pg.perPage)...)
	if err != nil {
		s.fail(w, r, fmt.Errorf("list %s: %w", table, err))
		return
	}
	defer rows.Close()
	objects := []J{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			s.fail(w, r, fmt.Errorf("list %s: %w", table, err))
			return
		}
		objects = append(objects, toJSON(v))
	}
	if err := rows.Err(); err != nil {
		s.fail(w, r, fmt.Errorf("list %s: %w", table, err))
		return
	}
	writeJSON(w, http.StatusOK, listJSON[J]{Total: total, Page: pg.page, PerPage: pg.perPage, Objects: objects})
}

// readRequest decodes a request's JSON body and validates it, answering a
// bad one itself; ok says whether the handler goes on.
func readRequest[T interface{ validate() error }](s *Server, w http.ResponseWriter, r *http.Request) (req T, ok bool) {
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return req, false
	}
	if err := req.validate(); err != nil {
		s.fail(w, r, err)
		return req, false
	}
	return req, true
}
