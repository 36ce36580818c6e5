package agenttrust

import (
	"fmt"

	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/redact"
)

// Sentinel errors, one for each thing a caller can do about a failure.
// Test with errors.Is; every error Check returns comes with a Deny
// decision. An error's text says more than its sentinel: "agenttrust:
// unauthorized: bad signature" and "agenttrust: unauthorized: address
// not allowed" both match ErrUnauthorized, and the HTTP API reports the
// finer cause as its error code.
var (
	// ErrUnauthorized is the root of every credential and identity
	// failure: besides the errors below that wrap it, a forged token
	// (bad signature), an unknown API key, a credential of no known kind,
	// a caller outside the key's IP allowlist, a Request.AgentID that
	// names another agent than the credential (the credential decides
	// who is acting), a JWT for another audience or signed with another
	// method than EdDSA, and a token delegated more than 8 times.
	ErrUnauthorized = errs.Unauthorized
	// ErrRevoked: the agent, session or credential has been revoked.
	ErrRevoked = errs.Revoked
	// ErrSuspended: the agent or session is suspended (Exchange and
	// Delegate refuse; Check denies with reason "agent suspended").
	ErrSuspended = errs.Suspended
	// ErrExpired: the credential's lifetime is over; get a fresh one.
	ErrExpired = errs.Expired
	// ErrMalformedCredential: the credential does not parse: an API key
	// whose checksum does not match (a typo, caught before any store
	// access), a credential over MaxCredentialSize, or a JWT whose header
	// or claims can be read more than one way. It matches
	// ErrUnauthorized.
	ErrMalformedCredential = errs.MalformedCredential
	// ErrCaveat matches every *CaveatError: a caveat does not hold for
	// this request, or does not parse. It matches ErrUnauthorized.
	ErrCaveat = errs.Caveat

	// ErrInvalidRequest: a Request field or an argument is missing, too
	// long or malformed; also an approver who may not decide an approval
	// (the agent that asked, or one the rule does not name), and an admin
	// or approver key asked for with a caveat that binds actions (such a
	// key could only ever act as an agent, see Principal.Roles).
	ErrInvalidRequest = errs.InvalidRequest
	// ErrInvalidPolicy matches every *PolicyError.
	ErrInvalidPolicy = errs.InvalidPolicy
	// ErrInvalidConfig: an Option or argument to New is unusable; also
	// a part given to New (its store, WithClock's clock, WithRandom's
	// source) that panicked during a call, or a clock that told a time no
	// record can hold (the zero time): the call denies or is refused,
	// and the client goes on.
	ErrInvalidConfig = errs.InvalidConfig
	// ErrUnevaluable: a deny or needs_approval rule that would decide the
	// request has a condition that cannot be evaluated on it: a missing
	// attribute, a value of another type than the condition's, NaN or an
	// infinity, no remote address for an "ip" condition. Check denies. It
	// matches ErrInvalidRequest.
	ErrUnevaluable = errs.Unevaluable

	// ErrStoreUnavailable: the store failed or timed out; checks deny.
	ErrStoreUnavailable = errs.StoreUnavailable
	// ErrAuditUnavailable: audit records cannot be written fast enough;
	// checks deny rather than act unrecorded.
	ErrAuditUnavailable = errs.AuditUnavailable
	// ErrPolicyEngine: the policy engine failed to evaluate.
	ErrPolicyEngine = errs.PolicyEngine
	// ErrClosed: the client has been closed.
	ErrClosed = errs.Closed

	// ErrNotFound: the id names nothing, such as an approval of another
	// tenant or Resume of an agent that is not suspended.
	ErrNotFound = errs.NotFound
	// ErrConflict: a write lost a race with another writer or came too
	// late, such as SavePolicy with a version that is no longer current
	// (it then also matches store.ErrConflict) or a decision on an
	// approval already decided, consumed or lapsed.
	ErrConflict = errs.Conflict
	// ErrChainBroken: an audit chain fails verification; every
	// *ChainError matches it.
	ErrChainBroken = errs.ChainBroken
)

// PolicyError reports one problem in a policy: where it is (file, rule id
// or index) and what is wrong. It matches ErrInvalidPolicy. A plain value;
// the zero PolicyError names no problem.
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

// CaveatError reports the caveat that failed. It matches ErrCaveat. A
// plain value; the zero CaveatError names no caveat.
type CaveatError struct {
	Caveat string // canonical text, or the raw text if it did not parse
	Msg    string
}

// Error quotes the caveat with any agenttrust credential in it redacted:
// a caveat may bind one ("attr.api_key = atk_..."), and the message
// reaches callers, logs and the bodies of refusals.
func (e *CaveatError) Error() string {
	return redact.Credentials(fmt.Sprintf("agenttrust: caveat %q: %s", e.Caveat, e.Msg))
}

// Is makes errors.Is(err, ErrCaveat) and errors.Is(err, ErrUnauthorized)
// hold.
func (e *CaveatError) Is(target error) bool { return target == ErrCaveat || target == ErrUnauthorized }

// storeErr wraps a store failure so it matches ErrStoreUnavailable and the
// store's own sentinel.
func storeErr(op string, err error) error {
	return &storeError{op: op, err: err}
}

// storeError is a store failure (storeErr). It keeps the store's error
// apart, whose text (a database's user, host and port) the caller's log
// may hold but the audit trail must not (opFailure).
type storeError struct {
	op  string
	err error
}

func (e *storeError) Error() string {
	return ErrStoreUnavailable.Error() + ": " + e.op + ": " + e.err.Error()
}

func (e *storeError) Unwrap() []error { return []error{ErrStoreUnavailable, e.err} }
