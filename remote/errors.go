package remote

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store"
)

var (
	// ErrForbidden: the server knows the caller but its roles do not allow
	// the operation (HTTP 403), such as an agent key asking to create keys.
	ErrForbidden = errors.New("agenttrust/remote: forbidden")
	// ErrConflict: the operation lost a race or repeats one (HTTP 409),
	// such as ApplyPolicy with a stale version. It is store.ErrConflict, so
	// either matches.
	ErrConflict = store.ErrConflict
)

// Error is a failure reported by, or on the way to, the server. It carries
// the HTTP status (0 when no answer arrived) and the server's error code,
// and matches the sentinel errors of package agenttrust it maps to:
//
//	401                 agenttrust.ErrUnauthorized, and the finer sentinel
//	                    the code names (ErrRevoked, ErrSuspended, ErrExpired,
//	                    ErrMalformedCredential, ErrCaveat)
//	403                 ErrForbidden (and agenttrust.ErrInvalidRequest for
//	                    code approver_not_allowed)
//	404                 agenttrust.ErrNotFound
//	409                 ErrConflict, or agenttrust.ErrConflict for code
//	                    approval_resolved
//	400 and other 4xx   agenttrust.ErrInvalidRequest (ErrInvalidPolicy for
//	                    code invalid_policy)
//	5xx, no answer,     agenttrust.ErrStoreUnavailable (ErrAuditUnavailable
//	a garbled answer    for code audit_unavailable)
//
// Its text may quote the answer, which anything between the client and
// the server may have written, reflecting the request: every text taken
// from an answer (Code, Message, RequestID) is redacted of the
// credentials the request carried (the bearer, a checked Credential) and
// of anything shaped like an agenttrust credential (an API key, a token,
// a JWT), as the audit trail redacts attributes.
type Error struct {
	Op      string // the client method, such as "CreateKey"
	Status  int
	Code    string
	Message string
	// RequestID is the X-Request-Id of the server's answer, which names
	// the request in the server's log; empty when there was no answer, or
	// its id was not 1-128 bytes of [A-Za-z0-9-_.:/+=@].
	RequestID string
	err       []error
}

func (e *Error) Error() string {
	switch {
	case e.Status == 0:
		return fmt.Sprintf("agenttrust/remote: %s: %s", e.Op, e.Message)
	case e.Code == "":
		return fmt.Sprintf("agenttrust/remote: %s: HTTP %d: %s", e.Op, e.Status, e.Message)
	}
	return fmt.Sprintf("agenttrust/remote: %s: %s (%s, HTTP %d)", e.Op, e.Message, e.Code, e.Status)
}

// Unwrap returns the sentinels e matches.
func (e *Error) Unwrap() []error { return e.err }

// codeErrors maps the server's error codes to sentinels. Codes not listed
// fall back on the status.
var codeErrors = map[string]error{
	"key_checksum":           errs.KeyChecksum,
	"credential_too_large":   errs.CredentialTooLarge,
	"malformed_credential":   agenttrust.ErrMalformedCredential,
	"revoked":                agenttrust.ErrRevoked,
	"suspended":              agenttrust.ErrSuspended,
	"unsupported_credential": errs.UnsupportedCredential,
	"unknown_key":            errs.UnknownKey,
	"bad_signature":          errs.BadSignature,
	"expired":                agenttrust.ErrExpired,
	"ip_not_allowed":         errs.IPNotAllowed,
	"caveat":                 agenttrust.ErrCaveat,
	"agent_mismatch":         errs.AgentMismatch,
	"delegation_depth":       errs.DelegationDepth,
	"audience":               errs.Audience,
	"algorithm":              errs.Algorithm,
	"unauthorized":           agenttrust.ErrUnauthorized,
	"unauthenticated":        agenttrust.ErrUnauthorized,
	"invalid_request":        agenttrust.ErrInvalidRequest,
	"invalid_policy":         agenttrust.ErrInvalidPolicy,
	"store_unavailable":      agenttrust.ErrStoreUnavailable,
	"audit_unavailable":      agenttrust.ErrAuditUnavailable,
	"policy_engine":          agenttrust.ErrPolicyEngine,
	"approval_resolved":      errs.ApprovalResolved,
	"conflict":               ErrConflict,
	"forbidden":              ErrForbidden,
}

// sentinels returns what an error answer matches. notFound is the
// sentinel of a 404 for this operation. Codes that contradict their
// status are believed only within the status's class, so a garbled answer
// cannot turn a server failure into, say, a credential problem.
func sentinels(status int, code string, notFound error) []error {
	if code == "approver_not_allowed" {
		return []error{errs.ApproverNotAllowed, ErrForbidden}
	}
	byStatus := func() error {
		switch {
		case status == http.StatusUnauthorized:
			return agenttrust.ErrUnauthorized
		case status == http.StatusForbidden:
			return ErrForbidden
		case status == http.StatusNotFound:
			return notFound
		case status == http.StatusConflict:
			return ErrConflict
		case status >= 400 && status < 500:
			return agenttrust.ErrInvalidRequest
		}
		return agenttrust.ErrStoreUnavailable
	}
	base := byStatus()
	e, known := codeErrors[code]
	if !known {
		return []error{base}
	}
	switch {
	case status == http.StatusUnauthorized && !errors.Is(e, agenttrust.ErrUnauthorized),
		status >= 500 && !errors.Is(e, agenttrust.ErrStoreUnavailable) && !errors.Is(e, agenttrust.ErrAuditUnavailable) && !errors.Is(e, agenttrust.ErrPolicyEngine),
		status == http.StatusNotFound,
		status < 400:
		return []error{base}
	}
	return []error{e}
}

// answerRequestID returns the X-Request-Id of an answer when it looks
// like one (what the server echoes or makes) and red leaves it as it is,
// else "": an answer may come from anything between, and its text is
// printed.
func answerRequestID(h http.Header, red func(string) string) string {
	v := h.Get("X-Request-Id")
	if !echoedRequestID(v) || red(v) != v {
		return ""
	}
	return v
}

// echoedRequestID reports whether the server takes id as a request's own
// and echoes it: 1-128 bytes of ASCII letters, digits and "-_.:/+=@".
func echoedRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '-' || b == '_' || b == '.' || b == ':' || b == '/' || b == '+' || b == '=' || b == '@') {
			return false
		}
	}
	return true
}
