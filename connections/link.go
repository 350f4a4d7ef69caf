package connections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/store"
)

// Link modes.
const (
	ModeCreate = "create"
	ModeUpdate = "update"
)

const (
	createTokenLife = 4 * time.Hour
	updateTokenLife = 30 * time.Minute
	publicTokenLife = 30 * time.Minute
	workflowBound   = 30 * time.Second // how long we wait for the platform's link token

	maxPendingLinkSessions = 20
)

func newID() string {
	b := make([]byte, 16)
	rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return hex.EncodeToString(b)
}

// ownedAccount returns a connection only to its owner: a customer's own, or
// for an admin the organization's own (bank-level) ones.
func (s *Service) ownedAccount(ctx context.Context, u store.User, guid string) (store.Account, error) {
	if u.IsAdmin() {
		a, err := s.db.Account(ctx, guid)
		if err == nil && a.CustomerGUID != "" {
			return store.Account{}, store.ErrNotFound
		}
		return a, err
	}
	return s.db.CustomerAccount(ctx, u.CustomerGUID, guid)
}

// updateAllowed applies the rules to opening Link in update mode: a customer
// reconnects an expired connection; an admin updates one of the
// organization's connections while it is active.
func (s *Service) updateAllowed(ctx context.Context, u store.User, a store.Account) error {
	action := rules.Reconnect
	finishing, err := s.finishing(ctx, a)
	if err != nil {
		return err
	}
	ok := rules.CustomerAllows(rules.CustomerSubject{State: a.State, Finishing: finishing}, action)
	if u.IsAdmin() {
		action = rules.Update
		ok = rules.AdminAllows(rules.AdminSubject{State: a.State, BankLevel: a.CustomerGUID == ""}, action)
	}
	if ok {
		return nil
	}
	code := "not_expired"
	if rules.Obsolete(a.State) {
		code = "obsolete"
	}
	return Refuse(KindConflict, code, rules.Refusal(action, a.State, a.CustomerGUID == ""))
}

// StartLink begins a Link session: it asks the platform for a link token
// (a workflow) and returns at once; the token arrives in the background and
// LinkSession reports it. The owner is the user's customer, or the
// organization itself for an admin.
func (s *Service) StartLink(ctx context.Context, u store.User, mode, accountGUID string) (store.LinkSession, error) {
	req := platform.CreateWorkflowRequest{Type: platform.WorkflowTypePlaid, Language: "en", LinkCustomizationName: "default",
		CustomerGUID: u.CustomerGUID, RedirectURI: s.cfg.RedirectURI}
	switch mode {
	case ModeCreate:
		req.Kind = platform.WorkflowKindLinkTokenCreate
		accountGUID = ""
	case ModeUpdate:
		req.Kind = platform.WorkflowKindLinkTokenUpdate
		a, err := s.ownedAccount(ctx, u, accountGUID)
		if err != nil {
			return store.LinkSession{}, err
		}
		if err := s.updateAllowed(ctx, u, a); err != nil {
			return store.LinkSession{}, err
		}
		req.ExternalBankAccountGUID = accountGUID
	default:
		return store.LinkSession{}, Refuse(KindInvalid, "bad_mode", "Unknown Link mode.")
	}
	// Each start costs a platform workflow and a poller until its token
	// arrives: a person has one or two in flight, never dozens.
	if n, err := s.db.PendingLinkSessions(ctx, u.ID, s.now().Add(-workflowBound)); err != nil {
		return store.LinkSession{}, err
	} else if n >= maxPendingLinkSessions {
		return store.LinkSession{}, Refuse(KindTooMany, "too_many", "Too many attempts to connect a bank just now. Wait a minute, then try again.")
	}
	ls := store.LinkSession{ID: newID(), UserID: u.ID, CustomerGUID: u.CustomerGUID, Mode: mode, AccountGUID: accountGUID, State: store.LinkPending}
	if err := s.db.CreateLinkSession(ctx, ls); err != nil {
		return ls, err
	}
	wf, err := s.clientFor(u.CustomerGUID).CreateWorkflow(ctx, req)
	if err != nil {
		s.log.Warn("link token workflow refused", "link_session", ls.ID, "mode", mode, "err", err)
		msg := "We could not reach the banking platform to start the connection. Please try again in a moment."
		if ferr := s.db.FailLinkSession(context.WithoutCancel(ctx), ls.ID, msg); ferr != nil {
			return ls, ferr
		}
		return ls, Refuse(KindUnavailable, "platform_unavailable", msg)
	}
	if err := s.db.SetLinkWorkflow(ctx, ls.ID, wf.GUID); err != nil {
		return ls, err
	}
	ls.WorkflowGUID = wf.GUID
	s.spawn(func(ctx context.Context) { s.awaitLinkToken(ctx, ls, u.CustomerGUID) })
	s.log.Info("link session started", "link_session", ls.ID, "mode", mode, "account", accountGUID, "workflow", wf.GUID)
	return ls, nil
}

// awaitLinkToken polls the workflow with backoff, within a bound, and stores the outcome.
func (s *Service) awaitLinkToken(ctx context.Context, ls store.LinkSession, customerGUID string) {
	ctx, cancel := context.WithTimeout(ctx, workflowBound)
	defer cancel()
	client := s.clientFor(customerGUID)
	// The outcome is written even when shutdown ends the wait (Run waits for it).
	bg := context.WithoutCancel(ctx)
	fail := func(msg string) {
		if err := s.db.FailLinkSession(bg, ls.ID, msg); err != nil {
			s.log.Error("fail link session", "link_session", ls.ID, "err", err)
		}
	}
	delay := 150 * time.Millisecond
	for {
		wf, err := client.GetWorkflow(ctx, ls.WorkflowGUID)
		switch {
		case err == nil && wf.State == platform.WorkflowStateCompleted && wf.PlaidLinkToken != nil && *wf.PlaidLinkToken != "":
			life := createTokenLife
			if ls.Mode == ModeUpdate {
				life = updateTokenLife
			}
			exp := s.now().Add(life)
			if err := s.db.SetLinkToken(bg, ls.ID, *wf.PlaidLinkToken, &exp); err != nil {
				s.log.Error("store link token", "link_session", ls.ID, "err", err)
			}
			return
		case err == nil && wf.State == platform.WorkflowStateFailed:
			s.log.Warn("link token workflow failed", "link_session", ls.ID, "workflow", wf.GUID)
			fail("The bank connection could not be prepared. Please try again.")
			return
		case err != nil && !platform.IsTemporary(err) && ctx.Err() == nil:
			s.log.Warn("link token workflow lookup refused", "link_session", ls.ID, "err", err)
			fail("The bank connection could not be prepared. Please try again.")
			return
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				s.log.Info("link token wait ended by shutdown", "link_session", ls.ID)
				fail("The portal restarted while preparing the connection. Please try again.")
				return
			}
			s.log.Warn("link token timed out", "link_session", ls.ID)
			fail("Preparing the connection took too long. Please try again.")
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// LinkSession returns a Link session to the user who started it.
func (s *Service) LinkSession(ctx context.Context, u store.User, id string) (store.LinkSession, error) {
	return s.db.UserLinkSession(ctx, u.ID, id)
}

// LinkCallback is one Link callback reported by the browser.
type LinkCallback struct {
	Kind               string // event, exit, success
	EventName          string
	ViewName           string
	ErrorCode          string
	ErrorType          string
	ExitStatus         string
	InstitutionID      string
	PlaidLinkSessionID string
	RequestID          string
}

// RecordCallback stores a Link callback of the user's own session. An exit
// records why the person left; it never changes a connection.
func (s *Service) RecordCallback(ctx context.Context, u store.User, id string, cb LinkCallback) (store.LinkSession, error) {
	ls, err := s.db.UserLinkSession(ctx, u.ID, id)
	if err != nil {
		return ls, err
	}
	err = s.db.AddLinkEvent(ctx, store.LinkEvent{LinkSessionID: ls.ID, AccountGUID: ls.AccountGUID, Kind: cb.Kind, EventName: cb.EventName,
		ViewName: cb.ViewName, ErrorCode: cb.ErrorCode, ErrorType: cb.ErrorType, ExitStatus: cb.ExitStatus, InstitutionID: cb.InstitutionID,
		PlaidLinkSessionID: cb.PlaidLinkSessionID, RequestID: cb.RequestID})
	if err != nil {
		return ls, err
	}
	s.log.Info("link callback", "link_session", ls.ID, "mode", ls.Mode, "kind", cb.Kind, "event", cb.EventName, "view", cb.ViewName,
		"error_code", cb.ErrorCode, "exit_status", cb.ExitStatus, "plaid_link_session_id", cb.PlaidLinkSessionID)
	if cb.Kind == "event" && (cb.EventName == "SUBMIT_CREDENTIALS" || cb.EventName == "SUBMIT_MFA") {
		if err := s.db.MarkCredentialsSubmitted(ctx, ls.ID); err != nil {
			return ls, err
		}
		ls.CredentialsSubmitted = true
	}
	if cb.Kind == "exit" && ls.State != store.LinkCompleted {
		msg := ExitMessage(cb.ErrorCode, ls.Mode, ls.CredentialsSubmitted)
		if err := s.db.ExitLinkSession(ctx, ls.ID, msg); err != nil {
			return ls, err
		}
		ls.State, ls.Message = store.LinkExited, msg
	}
	return ls, nil
}

// errorTexts explain Link's user-facing error codes in plain words.
var errorTexts = map[string]string{
	"INVALID_CREDENTIALS":        "The username or password was not accepted by your bank. Nothing was changed; try again.",
	"INVALID_UPDATED_USERNAME":   "Your bank did not recognise that username. Use the username you sign in to your bank with now.",
	"ITEM_LOCKED":                "Your bank has locked this login after too many attempts. Unlock it on your bank's website, then try again.",
	"INSTITUTION_DOWN":           "Your bank is not available right now. Try again later.",
	"INSTITUTION_NOT_RESPONDING": "Your bank is not responding right now. Try again later.",
	"INSTITUTION_NOT_AVAILABLE":  "Your bank is not available for connections right now. Try again later.",
	"MFA_NOT_SUPPORTED":          "Your bank asked for a kind of verification we cannot handle yet.",
	"NO_ACCOUNTS":                "No eligible accounts were found at this bank login.",
	"USER_SETUP_REQUIRED":        "Your bank needs you to finish setting up your account on its website first.",
	"INTERNAL_SERVER_ERROR":      "Something went wrong while connecting to your bank. Try again.",
	"INVALID_LINK_TOKEN":         "The secure connection expired. Start again.",
}

// ExitMessage says what leaving Link means for the person.
func ExitMessage(errorCode, mode string, credentialsSubmitted bool) string {
	if t, ok := errorTexts[errorCode]; ok {
		return t
	}
	if errorCode != "" {
		return "Connecting to your bank did not work (" + errorCode + "). Nothing was changed; try again."
	}
	if mode == ModeUpdate && credentialsSubmitted {
		return "You left before reconnecting was finished. Your bank login may already have changed, but this connection still needs a refresh: click Reconnect and finish the steps."
	}
	return ""
}

// duplicate refuses linking an account again while a connection of it
// exists, and offers only what that connection's state allows: reconnecting
// an expired one; nothing to do for one that works or is being set up.
func duplicate(a SuccessAccount, e store.Account, finishing map[string]bool) *Error {
	what := fmt.Sprintf("%s •••• %s", a.Name, a.Mask)
	err := &Error{Kind: KindConflict, Code: "duplicate"}
	switch {
	case rules.CustomerAllows(rules.CustomerSubject{State: e.State, Finishing: finishing[e.GUID]}, rules.Reconnect):
		err.Message = what + " is already linked, but its bank login has expired. Reconnect it instead of linking it again."
		err.ExistingGUID = e.GUID
	case e.State == store.StateStoring:
		err.Message = what + " is already being linked. Nothing was linked twice: it appears in your list as Pending."
	default:
		err.Message = what + " is already linked and " + rules.Label(e.State) + ". Nothing was linked twice."
	}
	return err
}

// finishing tells whether a reconnect of the connection is queued for the platform.
func (s *Service) finishing(ctx context.Context, a store.Account) (bool, error) {
	queued, err := s.db.QueuedCompletions(ctx, a.CustomerGUID)
	if err != nil {
		return false, err
	}
	for _, q := range queued {
		if q.Mode == ModeUpdate && q.AccountGUID == a.GUID {
			return true, nil
		}
	}
	return false, nil
}

// leftUnselected tells whether Link's account selection left the account of
// the updated connection out. Link's selection speaks only for the Item it
// opened, which in this platform is this one connection: no other connection
// is concerned. No selection reported (account selection off) keeps it.
func (s *Service) leftUnselected(ctx context.Context, ls store.LinkSession, in Success) (bool, error) {
	if len(in.Accounts) == 0 {
		return false, nil
	}
	a, err := s.db.Account(ctx, ls.AccountGUID)
	if err != nil {
		return false, err
	}
	name := a.AccountName
	if name == "" {
		name = a.Name
	}
	for _, sel := range in.Accounts {
		// The mask tells the accounts of one login apart; a bank may rename an
		// account, so the name decides only when there is no mask.
		if (a.AccountMask != "" && sel.Mask == a.AccountMask) || (a.AccountMask == "" && sel.Name == name) {
			return false, nil
		}
	}
	return true, nil
}

// SuccessAccount is one account of onSuccess's metadata.
type SuccessAccount struct {
	ID, Name, Mask, Type, Subtype string
}

// Success is what onSuccess reported.
type Success struct {
	PublicToken     string
	InstitutionID   string
	InstitutionName string
	Accounts        []SuccessAccount
}

func selectedJSON(accounts []SuccessAccount) string {
	type acct struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Mask string `json:"mask"`
	}
	out := make([]acct, 0, len(accounts))
	for _, a := range accounts {
		out = append(out, acct{ID: a.ID, Name: a.Name, Mask: a.Mask})
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// CompletionResult tells the browser where a completion stands.
type CompletionResult struct {
	Status      string // done, finishing
	AccountGUID string
	State       string // the connection's state when done
	// Next is a page the browser should go to afterwards (e.g. an admin's
	// review of the accounts an update left unselected); empty for none.
	Next string
}

// Complete records a finished Link flow durably, then makes the platform call.
// Only the owner of the Link session may complete it. If the platform fails
// or is slow, the completion stays queued and the worker finishes it later.
func (s *Service) Complete(ctx context.Context, u store.User, id string, in Success) (CompletionResult, error) {
	ls, err := s.db.UserLinkSession(ctx, u.ID, id)
	if err != nil {
		return CompletionResult{}, err
	}
	c := store.Completion{LinkSessionID: ls.ID, CustomerGUID: ls.CustomerGUID, Mode: ls.Mode, AccountGUID: ls.AccountGUID,
		InstitutionID: in.InstitutionID, InstitutionName: in.InstitutionName, SelectedAccounts: selectedJSON(in.Accounts)}
	if ls.State != store.LinkCompleted {
		if ls.State == store.LinkPending || ls.State == store.LinkFailed {
			return CompletionResult{}, Refuse(KindConflict, "not_ready", "This connection attempt is not ready to finish. Start again.")
		}
		if ls.Mode == ModeCreate {
			if err := s.checkNewAccount(ctx, ls, in); err != nil {
				// Another request of this session (a double submit, the glue's
				// retry) may have completed it since ls was read: the account
				// it made then looks like a duplicate. Its completion answers.
				if prior, perr := s.db.CompletionForSession(ctx, ls.ID); perr == nil {
					return s.completionResult(ctx, u, prior)
				}
				return CompletionResult{}, err
			}
			a := in.Accounts[0]
			exp := s.now().Add(publicTokenLife)
			c.PublicToken, c.PlaidAccountID, c.AccountName, c.AccountMask, c.ExpiresAt = in.PublicToken, a.ID, a.Name, a.Mask, &exp
		}
	}
	if ls.State != store.LinkCompleted && ls.Mode == ModeUpdate {
		unselected, err := s.leftUnselected(ctx, ls, in)
		if err != nil {
			return CompletionResult{}, err
		}
		c.Unselected = unselected
	}
	c, err = s.db.CreateCompletion(ctx, c)
	if errors.Is(err, store.ErrAlreadyCompleted) {
		return s.completionResult(ctx, u, c)
	}
	if err != nil {
		return CompletionResult{}, err
	}
	s.log.Info("link completion recorded", "link_session", ls.ID, "mode", ls.Mode, "completion", c.ID, "unselected", c.Unselected)
	if c.Unselected {
		// Nothing is sent to the platform: the owner is asked first.
		return s.completionResult(ctx, u, c)
	}
	attemptCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	s.attempt(attemptCtx, c)
	c, err = s.db.Completion(ctx, c.ID)
	if err != nil {
		return CompletionResult{}, err
	}
	return s.completionResult(ctx, u, c)
}

// ReviewPath is the page where the owner of an update reviews which accounts
// Link left unselected.
func ReviewPath(u store.User, linkSessionID string) string {
	if u.IsAdmin() {
		return "/admin/link/" + linkSessionID + "/review"
	}
	return "/link/" + linkSessionID + "/review"
}

func (s *Service) completionResult(ctx context.Context, u store.User, c store.Completion) (CompletionResult, error) {
	res, err := s.completionStatus(ctx, c)
	if err == nil && c.Mode == ModeUpdate && (c.Unselected || u.IsAdmin()) {
		res.Next = ReviewPath(u, c.LinkSessionID)
	}
	return res, err
}

func (s *Service) completionStatus(ctx context.Context, c store.Completion) (CompletionResult, error) {
	switch {
	case c.Unselected:
		a, err := s.db.Account(ctx, c.AccountGUID)
		if err != nil {
			return CompletionResult{}, err
		}
		return CompletionResult{Status: "unselected", AccountGUID: a.GUID, State: a.State}, nil
	case c.State == store.CompletionDone:
		a, err := s.db.Account(ctx, c.AccountGUID)
		if err != nil {
			return CompletionResult{}, err
		}
		return CompletionResult{Status: "done", AccountGUID: a.GUID, State: a.State}, nil
	case c.State == store.CompletionFailed:
		return CompletionResult{}, Refuse(KindRejected, "completion_failed", completionFailedMessage(c))
	default:
		return CompletionResult{Status: "finishing", AccountGUID: c.AccountGUID}, nil
	}
}

func completionFailedMessage(c store.Completion) string {
	if c.Mode == ModeUpdate {
		return "Reconnecting could not be finished: " + c.LastError
	}
	return "Linking the account could not be finished: " + c.LastError + " Please link it again."
}

// checkNewAccount applies the create rules before anything is written:
// exactly one account, and not a duplicate of a live connection of this owner.
func (s *Service) checkNewAccount(ctx context.Context, ls store.LinkSession, in Success) error {
	if !strings.HasPrefix(in.PublicToken, "public-") || len(in.PublicToken) > 128 {
		return Refuse(KindInvalid, "bad_token", "Link did not return a valid result. Please try again.")
	}
	switch len(in.Accounts) {
	case 0:
		return Refuse(KindRejected, "no_account", "No account was chosen. Choose the account to link.")
	case 1:
	default:
		return Refuse(KindRejected, "multiple_accounts", "Only one account can be linked at a time. Nothing was linked: start again and choose one account.")
	}
	a := in.Accounts[0]
	if a.ID == "" || len(a.ID) > 128 || len(a.Name) > 128 || len(a.Mask) > 16 || len(in.InstitutionID) > 64 {
		return Refuse(KindInvalid, "bad_account", "Link did not return a valid account. Please try again.")
	}
	existing, err := s.db.OwnerAccounts(ctx, ls.CustomerGUID)
	if err != nil {
		return err
	}
	for _, e := range existing {
		name := e.AccountName
		if name == "" {
			name = e.Name
		}
		if e.InstitutionID == in.InstitutionID && e.AccountMask == a.Mask && name == a.Name {
			f, err := s.finishing(ctx, e)
			if err != nil {
				return err
			}
			return duplicate(a, e, map[string]bool{e.GUID: f})
		}
	}
	return nil
}
