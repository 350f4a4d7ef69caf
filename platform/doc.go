// Package platform is the portal's client of the banking platform API
// (platform-api.md): typed models, OAuth2 client-credentials bank tokens,
// customer tokens, the contract's error body as one Go error type, and bounded
// retries for the calls that are safe to repeat (GET and PATCH only).
package platform
