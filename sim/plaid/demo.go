package simplaid

// Snapshot returns the stand-in's Items and live public tokens, in the form
// Restore takes back (the demo keeps it to reset the demo).
func (s *Server) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot()
}

// Restore replaces every Item and public token with those of a snapshot and
// ends every Link session in progress; the API keys and the webhook signing
// key stay, so the platform's verification of webhooks keeps working.
func (s *Server) Restore(snapshot []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linkTokens = map[string]*linkToken{}
	s.publicTokens = map[string]*publicToken{}
	s.items = map[string]*item{}
	s.accessTokens = map[string]string{}
	s.sessions = map[string]*linkSession{}
	s.oauthStates = map[string]*linkSession{}
	return s.apply(snapshot)
}
