package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/store"
)

// fakeLinks answers Complete; any other Link call would panic (the embedded
// interface is nil), which these tests never make.
type fakeLinks struct {
	Links
	complete func(ctx context.Context, u store.User, id string, in connections.Success) (connections.CompletionResult, error)
}

func (f *fakeLinks) Complete(ctx context.Context, u store.User, id string, in connections.Success) (connections.CompletionResult, error) {
	return f.complete(ctx, u, id, in)
}

var _ Links = (*fakeLinks)(nil)

func TestKindStatuses(t *testing.T) {
	for _, tt := range []struct {
		kind connections.Kind
		want int
	}{
		{connections.KindInvalid, http.StatusBadRequest},
		{connections.KindForbidden, http.StatusForbidden},
		{connections.KindNotFound, http.StatusNotFound},
		{connections.KindConflict, http.StatusConflict},
		{connections.KindRejected, http.StatusUnprocessableEntity},
		{connections.KindTooMany, http.StatusTooManyRequests},
		{connections.KindUnavailable, http.StatusBadGateway},
		{connections.Kind(0), http.StatusInternalServerError},
	} {
		t.Run(tt.kind.String(), func(t *testing.T) {
			if got := Status(tt.kind); got != tt.want {
				t.Errorf("Status(%v): got %d, want %d", tt.kind, got, tt.want)
			}
		})
	}
}

// The Link glue branches on the refusal's code and offers to reconnect the
// existing connection a duplicate names: both travel in the Link handler's JSON.
func TestCompleteLinkRefusalJSON(t *testing.T) {
	const guid = "0123456789abcdef0123456789abcdef"
	refusal := connections.Refuse(connections.KindConflict, "duplicate", "That account is already linked.")
	refusal.ExistingGUID = guid
	h := New(nil, Deps{Links: &fakeLinks{complete: func(context.Context, store.User, string, connections.Success) (connections.CompletionResult, error) {
		return connections.CompletionResult{}, refusal
	}}}, Options{})
	req := httptest.NewRequest(http.MethodPost, "/link/"+guid+"/complete", strings.NewReader(`{"public_token":"p","metadata":{"accounts":[{"id":"a"}]}}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(req, rec)
	c.SetParamNames("id")
	c.SetParamValues(guid)
	SetUser(c, store.User{ID: 1, Role: store.RoleCustomer, CustomerGUID: guid})
	if err := h.CompleteLink(c); err != nil {
		t.Fatalf("CompleteLink: got error %v, want the refusal answered as JSON", err)
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if rec.Code != http.StatusConflict || got["error"] != refusal.Message || got["code"] != "duplicate" || got["existing_guid"] != guid {
		t.Fatalf("got %d %v, want 409 with the message, code duplicate and existing_guid %s", rec.Code, got, guid)
	}
}
