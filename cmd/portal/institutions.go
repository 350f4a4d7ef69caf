package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/plaid/plaid-go/v20/plaid"

	"github.com/bankconnections/portal/connections"
)

// plaidInstitutions looks institution names up at Plaid (or the stand-in)
// through plaid-go's /institutions/get_by_id.
func plaidInstitutions(baseURL, clientID, secret string) connections.InstitutionLookup {
	cfg := plaid.NewConfiguration()
	cfg.AddDefaultHeader("PLAID-CLIENT-ID", clientID)
	cfg.AddDefaultHeader("PLAID-SECRET", secret)
	cfg.UseEnvironment(plaid.Environment(baseURL))
	cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	client := plaid.NewAPIClient(cfg)
	return func(ctx context.Context, institutionID string) (string, error) {
		req := plaid.NewInstitutionsGetByIdRequest(institutionID, []plaid.CountryCode{plaid.COUNTRYCODE_US, plaid.COUNTRYCODE_CA})
		resp, _, err := client.PlaidApi.InstitutionsGetById(ctx).InstitutionsGetByIdRequest(*req).Execute()
		if err != nil {
			if pe, perr := plaid.ToPlaidError(err); perr == nil {
				return "", fmt.Errorf("plaid %s/%s (request %s)", pe.ErrorType, pe.ErrorCode, pe.GetRequestId())
			}
			return "", err
		}
		return resp.Institution.Name, nil
	}
}
