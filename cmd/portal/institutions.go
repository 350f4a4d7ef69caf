package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/sim/platform/plaidgo"
)

// plaidInstitutions looks institution names up at Plaid (or the stand-in)
// with /institutions/get_by_id, through the plaid-go adapter (which keeps
// each name once found).
func plaidInstitutions(baseURL, clientID, secret string, log *slog.Logger) (connections.InstitutionLookup, error) {
	a, err := plaidgo.New(plaidgo.Config{ClientID: clientID, Secret: secret, BaseURL: baseURL,
		HTTPClient: &http.Client{Timeout: 15 * time.Second}, Logger: log})
	if err != nil {
		return nil, err
	}
	return a.InstitutionName, nil
}
