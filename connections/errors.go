package connections

// Kind says what sort of refusal an Error is; the web layer maps each kind
// to an HTTP status in one place, so the domain knows nothing of HTTP.
type Kind int

// Kinds of refusal.
const (
	// KindInvalid: the request itself is not understood (a bad mode, cursor, filter).
	KindInvalid Kind = iota + 1
	// KindForbidden: the person may not do this.
	KindForbidden
	// KindNotFound: there is no such thing for this person.
	KindNotFound
	// KindConflict: the thing is not in a state that allows this now.
	KindConflict
	// KindRejected: the request was understood, and the rules refuse it (an amount out of range).
	KindRejected
	// KindTooMany: too many attempts just now.
	KindTooMany
	// KindUnavailable: the banking platform did not answer; nothing changed.
	KindUnavailable
)

var kindNames = map[Kind]string{
	KindInvalid: "invalid", KindForbidden: "forbidden", KindNotFound: "not found", KindConflict: "conflict",
	KindRejected: "rejected", KindTooMany: "too many", KindUnavailable: "unavailable",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return "unknown"
}

// Error is a refusal the person can act on: Message is shown as is.
type Error struct {
	Kind    Kind
	Code    string // machine-readable, for the Link glue
	Message string
	// ExistingGUID names the connection a duplicate would have repeated.
	ExistingGUID string
}

func (e *Error) Error() string { return e.Message }

// Refuse builds a refusal of the given kind.
func Refuse(kind Kind, code, msg string) *Error {
	return &Error{Kind: kind, Code: code, Message: msg}
}
