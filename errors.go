package agenttrust

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test with errors.Is; every error Check returns comes with
// a Deny decision.
var (
	// ErrUnauthorized is the root of every credential and identity failure.
	ErrUnauthorized = errors.New("agenttrust: unauthorized")
	// ErrRevoked: the agent, session or credential has been revoked.
	ErrRevoked = fmt.Errorf("%w: revoked", ErrUnauthorized)
	// ErrSuspended: the agent or session is suspended (Exchange and
	// Delegate refuse; Check denies with reason "agent suspended").
	ErrSuspended = fmt.Errorf("%w: suspended", ErrUnauthorized)
	// ErrUnsupportedCredential: the request carries a credential of no
	// known kind, or one this client is not set up to verify.
	ErrUnsupportedCredential = fmt.Errorf("%w: unsupported credential", ErrUnauthorized)
	// ErrMalformedCredential: the credential does not parse.
	ErrMalformedCredential = fmt.Errorf("%w: malformed credential", ErrUnauthorized)
	// ErrKeyChecksum: an API key's checksum does not match: a typo or a
	// made-up key, caught before any store access.
	ErrKeyChecksum = fmt.Errorf("%w: api key checksum mismatch", ErrMalformedCredential)
	// ErrCredentialTooLarge: the credential is over MaxCredentialSize and
	// was not decoded.
	ErrCredentialTooLarge = fmt.Errorf("%w: credential too large", ErrMalformedCredential)
	// ErrUnknownKey: no API key of this tenant has that secret.
	ErrUnknownKey = fmt.Errorf("%w: unknown api key", ErrUnauthorized)
	// ErrBadSignature: a token's HMAC chain or a JWT's signature does not
	// verify, or it names a signing key that is not (or no longer) known.
	ErrBadSignature = fmt.Errorf("%w: bad signature", ErrUnauthorized)
	// ErrExpired: the credential's lifetime is over.
	ErrExpired = fmt.Errorf("%w: credential expired", ErrUnauthorized)
	// ErrCaveat matches every *CaveatError: a caveat does not hold for this
	// request, or does not parse.
	ErrCaveat = fmt.Errorf("%w: caveat not satisfied", ErrUnauthorized)
	// ErrIPNotAllowed: the caller's address is outside the key's allowlist.
	ErrIPNotAllowed = fmt.Errorf("%w: address not allowed", ErrUnauthorized)
	// ErrAgentMismatch: Request.AgentID names another agent than the
	// credential does. The credential decides who is acting.
	ErrAgentMismatch = fmt.Errorf("%w: agent does not match credential", ErrUnauthorized)
	// ErrDelegationDepth: more delegation hops than allowed.
	ErrDelegationDepth = fmt.Errorf("%w: delegation too deep", ErrUnauthorized)
	// ErrAudience: a JWT is not meant for this service.
	ErrAudience = fmt.Errorf("%w: wrong audience", ErrUnauthorized)
	// ErrAlgorithm: a JWT uses another signing method than EdDSA.
	ErrAlgorithm = fmt.Errorf("%w: signing method not allowed", ErrUnauthorized)
	// ErrJWTClaims: a JWT's header or claims can be read more than one
	// way: a name twice or in another case ("Exp"), exp, nbf or iat not
	// a number, or not a JSON object of valid UTF-8.
	ErrJWTClaims = fmt.Errorf("%w: ambiguous JWT claims", ErrMalformedCredential)

	// ErrDenied matches the error Guard returns when a decision denies.
	ErrDenied = errors.New("agenttrust: denied")
	// ErrApprovalRequired matches the error Guard returns when a decision
	// needs approval.
	ErrApprovalRequired = errors.New("agenttrust: approval required")

	// ErrInvalidRequest: a Request field is missing, too long or malformed.
	ErrInvalidRequest = errors.New("agenttrust: invalid request")
	// ErrInvalidPolicy matches every *PolicyError.
	ErrInvalidPolicy = errors.New("agenttrust: invalid policy")
	// ErrInvalidConfig: an Option or argument to New is unusable.
	ErrInvalidConfig = errors.New("agenttrust: invalid configuration")
	// ErrNarrowedRole: an admin or approver key was asked for with a
	// caveat that binds actions; such a key could only ever act as an
	// agent (see Principal.Narrowed). It matches ErrInvalidRequest.
	ErrNarrowedRole = fmt.Errorf("%w: admin and approver keys cannot carry caveats on tools, resources, sessions, on_behalf_of or attributes", ErrInvalidRequest)
	// ErrUnevaluable: a deny or needs_approval rule that would decide the
	// request has a condition that cannot be evaluated on it: a missing
	// attribute, a value of another type than the condition's, NaN or an
	// infinity, no remote address for an "ip" condition. Check denies. It
	// matches ErrInvalidRequest.
	ErrUnevaluable = fmt.Errorf("%w: condition cannot be evaluated", ErrInvalidRequest)

	// ErrStoreUnavailable: the store failed or timed out; checks deny.
	ErrStoreUnavailable = errors.New("agenttrust: store unavailable")
	// ErrAuditUnavailable: audit records cannot be written fast enough;
	// checks deny rather than act unrecorded.
	ErrAuditUnavailable = errors.New("agenttrust: audit unavailable")
	// ErrPolicyEngine: the policy engine failed to evaluate.
	ErrPolicyEngine = errors.New("agenttrust: policy engine failed")
	// ErrClosed: the client has been closed.
	ErrClosed = errors.New("agenttrust: client closed")

	// ErrApprovalNotFound: no approval has that id in this tenant.
	ErrApprovalNotFound = errors.New("agenttrust: approval not found")
	// ErrApprovalResolved: the approval was already decided, consumed or
	// has lapsed.
	ErrApprovalResolved = errors.New("agenttrust: approval already resolved or lapsed")
	// ErrApproverNotAllowed: the principal may not decide this approval,
	// for example because it is the agent that asked.
	ErrApproverNotAllowed = errors.New("agenttrust: approver not allowed")
	// ErrNotFound: the id names nothing (for example Resume of an agent
	// that is not suspended).
	ErrNotFound = errors.New("agenttrust: not found")
	// ErrChainBroken: an audit chain fails verification; every
	// *ChainError matches it.
	ErrChainBroken = errors.New("agenttrust: audit chain broken")
	// ErrConflict: a write lost a race with another writer, such as
	// SavePolicy with a version that is no longer current. It also
	// matches store.ErrConflict.
	ErrConflict = errors.New("agenttrust: conflict")
)

// DeniedError is returned by Guard when a decision denies. It matches
// ErrDenied, carries the Decision and unwraps to the check's error, if the
// denial came from one (such as ErrStoreUnavailable).
type DeniedError struct {
	Decision Decision
	Err      error
}

func (e *DeniedError) Error() string {
	return "agenttrust: denied: " + e.Decision.Reason
}

// Unwrap returns the check's error, or nil.
func (e *DeniedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDenied) hold.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// ApprovalRequiredError is returned by Guard when a decision needs
// approval. It matches ErrApprovalRequired.
type ApprovalRequiredError struct {
	Decision   Decision
	ApprovalID string
}

func (e *ApprovalRequiredError) Error() string {
	return "agenttrust: approval required (approval " + e.ApprovalID + "): " + e.Decision.Reason
}

// Is makes errors.Is(err, ErrApprovalRequired) hold.
func (e *ApprovalRequiredError) Is(target error) bool { return target == ErrApprovalRequired }

// PolicyError reports one problem in a policy: where it is (file, rule id
// or index) and what is wrong. It matches ErrInvalidPolicy.
type PolicyError struct {
	File  string // empty when the policy did not come from a file
	Rule  string // rule or limit id; empty for document-level problems
	Index int    // position of the rule or limit, from 0; -1 when not about one
	Msg   string
}

func (e *PolicyError) Error() string {
	s := "agenttrust: invalid policy"
	if e.File != "" {
		s += " " + e.File
	}
	switch {
	case e.Rule != "":
		s += fmt.Sprintf(": rule %q", e.Rule)
	case e.Index >= 0:
		s += fmt.Sprintf(": rule #%d", e.Index)
	}
	return s + ": " + e.Msg
}

// Is makes errors.Is(err, ErrInvalidPolicy) hold.
func (e *PolicyError) Is(target error) bool { return target == ErrInvalidPolicy }

// CaveatError reports the caveat that failed. It matches ErrCaveat.
type CaveatError struct {
	Caveat string // canonical text, or the raw text if it did not parse
	Msg    string
}

func (e *CaveatError) Error() string {
	return fmt.Sprintf("agenttrust: caveat %q: %s", e.Caveat, e.Msg)
}

// Is makes errors.Is(err, ErrCaveat) and errors.Is(err, ErrUnauthorized)
// hold.
func (e *CaveatError) Is(target error) bool { return target == ErrCaveat || target == ErrUnauthorized }

// storeErr wraps a store failure so it matches ErrStoreUnavailable and the
// store's own sentinel.
func storeErr(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrStoreUnavailable, op, err)
}
