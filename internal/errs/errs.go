// Package errs defines the sentinel errors of package agenttrust. The
// root package exports those a caller acts on differently (ErrRevoked,
// ErrExpired, ErrStoreUnavailable, ...). The finer ones here say exactly
// what failed; each wraps one it exports, so errors.Is still answers the
// caller's question, and their text names the failure. The server's error
// codes, the remote client and the tests tell them apart.
package errs

import (
	"context"
	"errors"
	"fmt"

	"github.com/agenttrust/agenttrust/store"
)

// The sentinels package agenttrust exports, under the same names with an
// Err prefix; see its errors.go for what each means.
var (
	Unauthorized        = errors.New("agenttrust: unauthorized")
	Revoked             = fmt.Errorf("%w: revoked", Unauthorized)
	Suspended           = fmt.Errorf("%w: suspended", Unauthorized)
	MalformedCredential = fmt.Errorf("%w: malformed credential", Unauthorized)
	Expired             = fmt.Errorf("%w: credential expired", Unauthorized)
	Caveat              = fmt.Errorf("%w: caveat not satisfied", Unauthorized)

	InvalidRequest = errors.New("agenttrust: invalid request")
	InvalidPolicy  = errors.New("agenttrust: invalid policy")
	InvalidConfig  = errors.New("agenttrust: invalid configuration")
	Unevaluable    = fmt.Errorf("%w: condition cannot be evaluated", InvalidRequest)

	StoreUnavailable = errors.New("agenttrust: store unavailable")
	AuditUnavailable = errors.New("agenttrust: audit unavailable")
	PolicyEngine     = errors.New("agenttrust: policy engine failed")
	Closed           = errors.New("agenttrust: client closed")

	NotFound    = errors.New("agenttrust: not found")
	ChainBroken = errors.New("agenttrust: audit chain broken")
	Conflict    = errors.New("agenttrust: conflict")
)

// Budgets (see budget.go in package agenttrust).
var (
	// NoBudgets: a credential carries a budget but the store cannot hold
	// one (it is no store.Budgeter); the credential is refused.
	NoBudgets = fmt.Errorf("%w: the store holds no budgets (store.Budgeter), and the credential carries one", InvalidConfig)
	// BudgetRefused: a delegation would carve more than its parent has
	// left, or its budget is refused otherwise.
	BudgetRefused = fmt.Errorf("%w: budget refused", Unauthorized)
)

// The finer sentinels.
var (
	// UnsupportedCredential: a credential of no known kind, or one this
	// client is not set up to verify.
	UnsupportedCredential = fmt.Errorf("%w: unsupported credential", Unauthorized)
	// KeyChecksum: an API key's checksum does not match, caught before
	// any store access.
	KeyChecksum = fmt.Errorf("%w: api key checksum mismatch", MalformedCredential)
	// CredentialTooLarge: over MaxCredentialSize, not decoded.
	CredentialTooLarge = fmt.Errorf("%w: credential too large", MalformedCredential)
	// UnknownKey: no API key of this tenant has that secret.
	UnknownKey = fmt.Errorf("%w: unknown api key", Unauthorized)
	// BadSignature: a token's HMAC chain or a JWT's signature does not
	// verify, or names a signing key that is not (or no longer) known.
	BadSignature = fmt.Errorf("%w: bad signature", Unauthorized)
	// IPNotAllowed: the caller's address is outside the allowlist.
	IPNotAllowed = fmt.Errorf("%w: address not allowed", Unauthorized)
	// AgentMismatch: Request.AgentID names another agent than the
	// credential does.
	AgentMismatch = fmt.Errorf("%w: agent does not match credential", Unauthorized)
	// HopNotBound: a token's hop caveat names an id its chain did not
	// make there: a hop appended with another chain's id, or any made-up
	// one. It is a forgery, reported as a bad signature.
	HopNotBound = fmt.Errorf("%w: hop id not bound to its chain", BadSignature)
	// DelegationDepth: more delegation hops than allowed.
	DelegationDepth = fmt.Errorf("%w: delegation too deep", Unauthorized)
	// Audience: a JWT is not meant for this service.
	Audience = fmt.Errorf("%w: wrong audience", Unauthorized)
	// Algorithm: a JWT uses another signing method than EdDSA.
	Algorithm = fmt.Errorf("%w: signing method not allowed", Unauthorized)
	// JWTClaims: a JWT's header or claims can be read more than one way.
	JWTClaims = fmt.Errorf("%w: ambiguous JWT claims", MalformedCredential)

	// NarrowedRole: an admin or approver key asked for with a caveat
	// that binds actions.
	NarrowedRole = fmt.Errorf("%w: admin and approver keys cannot carry caveats on tools, resources, sessions, on_behalf_of or attributes", InvalidRequest)

	// ApprovalNotFound: no approval has that id in this tenant.
	ApprovalNotFound = refine("agenttrust: approval not found", NotFound)
	// ApprovalResolved: the approval was already decided, consumed or
	// has lapsed.
	ApprovalResolved = refine("agenttrust: approval already resolved or lapsed", Conflict)
	// ApproverNotAllowed: the principal may not decide this approval.
	ApproverNotAllowed = refine("agenttrust: approver not allowed", InvalidRequest)

	// Panicked: a part the client was given (its store, clock or random
	// source) panicked, or its clock told a time no record can hold,
	// during a call: the call denies or is refused. It is a defect of that
	// part, not an outage, so it matches InvalidConfig.
	Panicked = refine("agenttrust: a part the client was given failed", InvalidConfig)
)

// refine returns a sentinel with its own text that matches parent.
func refine(msg string, parent error) error { return &refined{msg: msg, parent: parent} }

type refined struct {
	msg    string
	parent error
}

func (e *refined) Error() string { return e.msg }
func (e *refined) Unwrap() error { return e.parent }

// errorCodes maps errors to the API's error codes, most specific first:
// a finer sentinel before the one it wraps. The same codes appear in a
// check response's "error" field and in observe.Check.Code.
var errorCodes = []struct {
	err  error
	code string
}{
	{ApprovalResolved, "approval_resolved"},      // a Conflict
	{ApproverNotAllowed, "approver_not_allowed"}, // an InvalidRequest
	{KeyChecksum, "key_checksum"},
	{CredentialTooLarge, "credential_too_large"},
	{MalformedCredential, "malformed_credential"},
	{Revoked, "revoked"},
	{Suspended, "suspended"},
	{UnsupportedCredential, "unsupported_credential"},
	{UnknownKey, "unknown_key"},
	{BadSignature, "bad_signature"},
	{Expired, "expired"},
	{IPNotAllowed, "ip_not_allowed"},
	{Caveat, "caveat"},
	{AgentMismatch, "agent_mismatch"},
	{DelegationDepth, "delegation_depth"},
	{Audience, "audience"},
	{Algorithm, "algorithm"},
	{Unauthorized, "unauthorized"},
	{InvalidRequest, "invalid_request"},
	{InvalidPolicy, "invalid_policy"},
	{ChainBroken, "audit_chain_broken"},
	{StoreUnavailable, "store_unavailable"},
	{AuditUnavailable, "audit_unavailable"},
	{PolicyEngine, "policy_engine"},
	{Closed, "closed"},
	{NotFound, "not_found"},
	{Conflict, "conflict"},
	{store.ErrConflict, "conflict"},
	{store.ErrNotFound, "not_found"},
	{store.ErrUnavailable, "store_unavailable"},
	{store.ErrClosed, "store_unavailable"},
	{context.DeadlineExceeded, "timeout"},
	{context.Canceled, "canceled"},
}

// Code returns the stable snake_case code of err, as the HTTP API names
// it in an error response and in a check's "error" field, and as
// observe.Check.Code reports it: "revoked", "store_unavailable",
// "invalid_request", ... It returns "internal" for an error it does not
// know, and "" for nil.
func Code(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return "internal"
}
