package connections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/store"
)

// DefaultTransferLimit is the largest single transfer, in cents, unless configured.
const DefaultTransferLimit = 1_000_000 // $10,000.00

// TransferConfig tunes money movement.
type TransferConfig struct {
	// Limit is the largest amount of one transfer, in cents; default DefaultTransferLimit.
	Limit int64
	// PollInterval is how often transfers the platform has not finished are
	// asked about; default 2 s.
	PollInterval time.Duration
	// SubmitWindow is how long a confirm may still be talking to the platform;
	// a transfer left submitting longer is looked up by its quote. Default 1 min.
	SubmitWindow time.Duration
}

// Transfers is money movement for customers: funding quotes and transfers
// made with each customer's own platform token, and the poll that follows
// them to completed or failed.
type Transfers struct {
	db  *store.DB
	log *slog.Logger
	// clientFor returns a client acting with the customer's own token, so the
	// platform itself refuses an account or transfer of anyone else.
	clientFor func(customerGUID string) *platform.Client
	// now reads the service's clock, which tests may replace after construction.
	now func() time.Time
	cfg TransferConfig

	wake chan struct{}
}

// NewTransfers builds money movement on top of the connections service.
func NewTransfers(svc *Service, cfg TransferConfig) *Transfers {
	if cfg.Limit <= 0 {
		cfg.Limit = DefaultTransferLimit
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.SubmitWindow <= 0 {
		cfg.SubmitWindow = time.Minute
	}
	return &Transfers{db: svc.db, log: svc.log, clientFor: svc.clientFor, now: func() time.Time { return svc.now() },
		cfg: cfg, wake: make(chan struct{}, 1)}
}

// Limit is the largest amount of one transfer, in cents.
func (t *Transfers) Limit() int64 { return t.cfg.Limit }

// ParseTransferLimit reads a configured limit in dollars ("" is the default).
func ParseTransferLimit(s string) (int64, error) {
	if strings.TrimSpace(s) == "" {
		return DefaultTransferLimit, nil
	}
	cents, err := ParseAmount(s, 1<<53)
	if err != nil {
		return 0, fmt.Errorf("transfer limit %q: give a positive dollar amount, like 10000", s)
	}
	return cents, nil
}

var amountPattern = regexp.MustCompile(`^([+-]?)([0-9]*)(?:\.([0-9]*))?$`)

// ParseAmount reads an amount of dollars as the customer typed it ("25",
// "25.00", "$1,250.5") into cents. Refusals are *Error with a message to show.
func ParseAmount(s string, limit int64) (int64, error) {
	bad := func(msg string) (int64, error) {
		return 0, Refuse(KindRejected, "invalid_amount", msg)
	}
	s = strings.TrimSpace(s)
	s = strings.Replace(s, "$", "", 1)
	s = strings.ReplaceAll(s, ",", "")
	if s == "" {
		return bad("Enter an amount in dollars, like 25.00.")
	}
	m := amountPattern.FindStringSubmatch(s)
	if m == nil || m[2] == "" && m[3] == "" {
		return bad("The amount must be a number of dollars, like 25.00.")
	}
	sign, whole, frac := m[1], strings.TrimLeft(m[2], "0"), m[3]
	if len(frac) > 2 {
		return bad("Amounts are in dollars and cents: use at most two decimals.")
	}
	tooMuch := fmt.Sprintf("The most you can move at once is %s.", rules.Money(&limit))
	if len(whole) > 15 {
		if sign == "-" {
			return bad("Enter an amount greater than zero.")
		}
		return bad(tooMuch)
	}
	w, _ := strconv.ParseInt("0"+whole, 10, 64)
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	cents := w*100 + f
	if sign == "-" || cents == 0 {
		return bad("Enter an amount greater than zero.")
	}
	if cents > limit {
		return bad(tooMuch)
	}
	return cents, nil
}

// TransferRequest is what the customer asks for on a connection.
type TransferRequest struct {
	Amount string // dollars, as typed
	Side   string // deposit | withdrawal
	Rail   string // ach | wire
}

// BlockedReason says why a connection in state cannot move money, or "" when it can.
func BlockedReason(state string) string {
	switch state {
	case store.StateCompleted:
		return ""
	case store.StateRefreshRequired:
		return "Deposits and withdrawals are paused: your bank login for this account has expired. Reconnect it to move money again."
	case store.StateStoring:
		return "This connection is still being set up. You can move money once it shows Connected."
	case store.StateUnverified:
		return "This account is not verified yet, so no money can be moved with it."
	case store.StateFailed:
		return "This connection could not be set up, so no money can be moved with it. Link the account again."
	default:
		return "This connection was disconnected. Link the account again to move money."
	}
}

// Quote prices a deposit or withdrawal on one of the customer's connections
// and keeps it for the confirm step. Bad input is refused before anything
// is asked of the platform or stored.
func (t *Transfers) Quote(ctx context.Context, u store.User, accountGUID string, in TransferRequest) (store.Transfer, error) {
	a, err := t.db.CustomerAccount(ctx, u.CustomerGUID, accountGUID)
	if err != nil {
		return store.Transfer{}, err
	}
	if reason := BlockedReason(a.State); reason != "" {
		return store.Transfer{}, Refuse(KindConflict, "blocked", reason)
	}
	if in.Side != platform.SideDeposit && in.Side != platform.SideWithdrawal {
		return store.Transfer{}, Refuse(KindRejected, "invalid_side", "Choose Deposit or Withdraw.")
	}
	if in.Rail != platform.RailACH && in.Rail != platform.RailWire {
		return store.Transfer{}, Refuse(KindRejected, "invalid_rail", "Choose ACH or wire.")
	}
	cents, err := ParseAmount(in.Amount, t.cfg.Limit)
	if err != nil {
		return store.Transfer{}, err
	}
	q, err := t.clientFor(u.CustomerGUID).CreateQuote(ctx, platform.CreateQuoteRequest{
		ProductType: platform.ProductTypeFunding, Asset: a.Asset, Side: in.Side, ReceiveAmount: &cents,
	})
	if err != nil {
		t.log.Warn("funding quote failed", "account", a.GUID, "err", err)
		if temporary(err) {
			return store.Transfer{}, Refuse(KindUnavailable, "platform_unavailable", "The bank platform did not answer. Nothing was moved; try again in a moment.")
		}
		return store.Transfer{}, Refuse(KindRejected, "quote_refused", "The bank platform could not price this transfer. Nothing was moved.")
	}
	var expires time.Time // a funding quote may have no expiry
	if q.ExpiresAt != nil {
		expires = *q.ExpiresAt
	}
	return t.db.CreateQuotedTransfer(ctx, store.Transfer{
		Key: newID(), CustomerGUID: u.CustomerGUID, AccountGUID: a.GUID, Side: in.Side, Rail: in.Rail,
		Amount: q.ReceiveAmount, Fee: q.Fee, QuoteGUID: q.GUID, QuoteExpiresAt: expires,
	})
}

// Transfer returns one of the customer's transfers by its key.
func (t *Transfers) Transfer(ctx context.Context, u store.User, key string) (store.Transfer, error) {
	return t.db.CustomerTransfer(ctx, u.CustomerGUID, key)
}

// Local failure codes, next to the platform's.
const (
	failureQuoteExpired = "quote_expired"
	failureRefused      = "refused"
	failureNotSent      = "not_sent"
)

// Confirm sends the quoted transfer to the platform, once: a second submit
// of the same confirm form finds it claimed and sends nothing. The platform
// has no idempotency keys, so an unanswered POST is never repeated; the poll
// looks the transfer up by its quote instead.
func (t *Transfers) Confirm(ctx context.Context, u store.User, key string) (store.Transfer, error) {
	tr, err := t.db.CustomerTransfer(ctx, u.CustomerGUID, key)
	if err != nil || tr.State != store.TransferQuoted {
		return tr, err
	}
	if tr.QuoteExpired(t.now()) {
		return tr, Refuse(KindConflict, failureQuoteExpired, "This quote has expired. Nothing was moved; start again for a new quote.")
	}
	a, err := t.db.CustomerAccount(ctx, u.CustomerGUID, tr.AccountGUID)
	if err != nil {
		return tr, err
	}
	if reason := BlockedReason(a.State); reason != "" {
		return tr, Refuse(KindConflict, "blocked", reason)
	}
	claimed, err := t.db.ClaimTransfer(ctx, u.CustomerGUID, key)
	if err != nil || !claimed {
		if err == nil {
			tr, err = t.db.CustomerTransfer(ctx, u.CustomerGUID, key)
		}
		return tr, err
	}
	// The answer must be written down even if the customer closes the tab.
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	p, err := t.clientFor(u.CustomerGUID).CreateTransfer(callCtx,
		platform.FundingTransfer(u.CustomerGUID, tr.QuoteGUID, tr.Amount, tr.AccountGUID, tr.Rail))
	bg := context.WithoutCancel(ctx)
	switch {
	case err == nil:
		err = t.record(bg, tr, p)
	case temporary(err):
		// It may have reached the platform: leave it submitting for the poll.
		t.log.Warn("transfer outcome unknown; the poll will look it up", "transfer", tr.ID, "err", err)
		err = nil
	default:
		t.log.Warn("transfer refused", "transfer", tr.ID, "err", err)
		err = t.db.RecordTransfer(bg, tr.ID, "", store.TransferFailed, refusalCode(err))
	}
	if err != nil {
		return tr, err
	}
	t.nudge()
	return t.db.CustomerTransfer(bg, u.CustomerGUID, key)
}

func refusalCode(err error) string {
	var pe *platform.Error
	switch {
	case platform.IsNotFound(err):
		return platform.TransferFailureInvalidDestination
	case errors.As(err, &pe) && strings.Contains(strings.ToLower(pe.ErrorMessage), "expired"):
		return failureQuoteExpired
	}
	return failureRefused
}

func (t *Transfers) record(ctx context.Context, tr store.Transfer, p platform.Transfer) error {
	if !slices.Contains(platform.TransferStates, p.State) {
		// A state a newer platform added: keep following the transfer as it is.
		t.log.Warn("transfer in a state the portal does not know; still following it", "transfer", tr.ID, "state", p.State)
		return t.db.RecordTransfer(ctx, tr.ID, p.GUID, tr.State, tr.FailureCode)
	}
	code := ""
	if p.FailureCode != nil {
		code = *p.FailureCode
	}
	if p.State == platform.TransferStateFailed && code == "" {
		code = failureRefused
	}
	if p.State != tr.State {
		t.log.Info("transfer state", "transfer", tr.ID, "platform_guid", p.GUID, "from", tr.State, "to", p.State, "failure_code", code)
	}
	return t.db.RecordTransfer(ctx, tr.ID, p.GUID, p.State, code)
}

// Recent lists a customer's latest transfers, of one connection or all.
func (t *Transfers) Recent(ctx context.Context, customerGUID, accountGUID string, limit int) ([]store.Transfer, error) {
	return t.db.RecentTransfers(ctx, customerGUID, accountGUID, limit)
}

func (t *Transfers) nudge() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Poll asks the platform about every transfer it has not finished and
// records the answers. A transfer whose confirm got no answer is looked up
// by its quote once the confirm can no longer be running.
func (t *Transfers) Poll(ctx context.Context) error {
	open, err := t.db.OpenTransfers(ctx, 200)
	if err != nil {
		return err
	}
	var errs []error
	for _, tr := range open {
		if err := t.pollOne(ctx, tr); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *Transfers) pollOne(ctx context.Context, tr store.Transfer) error {
	client := t.clientFor(tr.CustomerGUID)
	if tr.TransferGUID != "" {
		p, err := client.GetTransfer(ctx, tr.TransferGUID)
		if err != nil {
			return fmt.Errorf("transfer %d: %w", tr.ID, err)
		}
		return t.record(ctx, tr, p)
	}
	if t.now().Sub(tr.UpdatedAt) < t.cfg.SubmitWindow {
		return nil // the confirm may still be waiting for its answer
	}
	p, found, err := t.findByQuote(ctx, client, tr)
	switch {
	case err != nil:
		return fmt.Errorf("transfer %d: %w", tr.ID, err)
	case found:
		return t.record(ctx, tr, p)
	case t.notSentBy(tr):
		// Not on the platform, and its quote can no longer be executed (or,
		// without an expiry, the confirm ended long ago).
		t.log.Warn("transfer never reached the platform", "transfer", tr.ID)
		return t.db.RecordTransfer(ctx, tr.ID, "", store.TransferFailed, failureNotSent)
	}
	return nil
}

// notSentBy tells whether a transfer whose confirm got no answer and that the
// platform does not list can be given up: its quote has expired, or, for a
// quote without an expiry, several submit windows have passed since the
// confirm (its call is bounded far below one).
func (t *Transfers) notSentBy(tr store.Transfer) bool {
	now := t.now()
	if !tr.QuoteExpiresAt.IsZero() {
		return now.After(tr.QuoteExpiresAt)
	}
	return now.Sub(tr.UpdatedAt) > 5*t.cfg.SubmitWindow
}

// findByQuote walks the customer's transfers, newest first, back to shortly
// before this one was confirmed, for the one made from its quote.
func (t *Transfers) findByQuote(ctx context.Context, client *platform.Client, tr store.Transfer) (platform.Transfer, bool, error) {
	cut := tr.CreatedAt.Add(-time.Minute)
	p := platform.ListTransfersParams{PerPage: 100, CustomerGUIDs: []string{tr.CustomerGUID}}
	for page := 0; page < 50; page++ {
		p.Page = page
		list, err := client.ListTransfers(ctx, p)
		if err != nil {
			return platform.Transfer{}, false, err
		}
		for _, o := range list.Objects {
			if o.QuoteGUID == tr.QuoteGUID {
				return o, true, nil
			}
			if o.CreatedAt.Before(cut) {
				return platform.Transfer{}, false, nil
			}
		}
		if len(list.Objects) < p.PerPage || (page+1)*p.PerPage >= list.Total {
			break
		}
	}
	return platform.Transfer{}, false, nil
}

// Run polls open transfers until ctx ends: on a schedule, and at once after a confirm.
func (t *Transfers) Run(ctx context.Context) {
	tick := time.NewTicker(t.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-t.wake:
		}
		pollCtx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := t.Poll(pollCtx); err != nil && ctx.Err() == nil {
			t.log.Warn("transfer poll failed", "err", err)
		}
		cancel()
	}
}
