// Package observe is the instrumentation hook of agenttrust: an Observer
// installed with agenttrust.WithObserver (and server.WithObserver) is told
// of every check and of the other events an operator counts. It has no
// dependencies, so the core module keeps none for instrumentation; the
// OpenTelemetry module (github.com/agenttrust/agenttrust/otel) implements
// it with spans and metrics.
//
// # Cost
//
// Without an Observer a client pays one nil check per check. With one, it
// pays a second clock read and one call to Observer.Check per check. The
// values passed are copies: an Observer may keep them, and nothing it
// holds is reused by the client.
//
// # Cardinality
//
// Agent, Tool and Route name what the caller asked for, before
// validation in the case of a check that denies for being invalid (then
// as the audit record keeps them: at most 1 KiB of valid UTF-8 without
// NUL): use them on spans and logs, not as metric labels. Effect, Code,
// Kind and Outcome take few values.
package observe

import (
	"context"
	"time"
)

// Observer is told what a client (and a server) does. Its methods are
// called synchronously, on the path they describe (Check at the end of
// every check), so they must be fast and must not block; they must be
// safe for concurrent use. A client (agenttrust.New) recovers a panic in
// its Observer and logs it: the call it told of goes on as if told.
type Observer interface {
	// Check is called once a check has decided and its audit record is
	// queued (or, in durable mode, written).
	Check(ctx context.Context, c Check)
	// Event is called for everything else (see Kind).
	Event(ctx context.Context, e Event)
}

// Check is what one check decided.
type Check struct {
	Tenant string
	Agent  string // Request.AgentID: the credential's agent once verified
	Tool   string
	// Effect is "allow", "deny" or "needs_approval".
	Effect string
	Rule   string
	Reason string
	// Code is "" when the check decided, or the error code of why it
	// could not and denied (as the HTTP API names them: "revoked",
	// "store_unavailable", "invalid_request", ...).
	Code string
	// DecisionID is the decision's id (agenttrust.DecisionID; its String
	// is the id the audit record holds).
	DecisionID [16]byte
	// Start is when the check began, by the client's clock; Duration how
	// long it took, audit included.
	Start    time.Time
	Duration time.Duration
}

// Kind says what an Event is about.
type Kind uint8

// Kinds of Event. The fields each kind sets are named beside it; Tenant
// is always set.
const (
	// ApprovalOpened: a check opened a new pending approval (Agent, Tool).
	ApprovalOpened Kind = iota + 1
	// ApprovalDecided: an approval was decided; Outcome is "approved" or
	// "denied" (Agent is the approver).
	ApprovalDecided
	// Revoked: an id was revoked (Revoke).
	Revoked
	// Suspended: an agent or session was suspended (Suspend; a trip of
	// the runaway breaker is a BreakerTripped).
	Suspended
	// RateLimited: a rate limit denied a check (Agent, Tool).
	RateLimited
	// BreakerTripped: the runaway breaker suspended an agent (Agent).
	BreakerTripped
	// TokenIssued: a credential was minted; Outcome is "token" (Exchange),
	// "jwt" (ExchangeJWT) or "delegation" (Delegate).
	TokenIssued
	// AuditWritten: N audit records were written to every sink; Pending
	// records still wait.
	AuditWritten
	// AuditStuck: audit writes have failed past their bound, and checks
	// deny (Outcome "stuck"), or they succeed again (Outcome "recovered").
	AuditStuck

	// The agenttrust server's events.

	// HTTPRequest: the server answered a request: Route (the route's
	// pattern, e.g. "POST /v1/actions/check", or "" for an unknown
	// route), Status, Duration. Tenant is "" when the caller was not
	// authenticated.
	HTTPRequest
	// StoreError: a request or check failed because the store was down.
	StoreError
	// TenantOpened: the server opened a tenant's Client.
	TenantOpened
	// TenantClosed: the server closed an idle tenant's Client.
	TenantClosed
	// ChainBreak: the server refused to open a tenant whose audit chain
	// in the store was cut or rewritten.
	ChainBreak
	// ShadowDisagreed: the shadow policy (AuditConfig.Shadow) decided a
	// check otherwise than the live policy (Agent, Tool); Outcome is the
	// shadow's effect ("allow", "deny", "needs_approval") or "error".
	// Nothing was enforced: the record of the check says so.
	ShadowDisagreed
)

var kindNames = [...]string{
	ApprovalOpened: "approval_opened", ApprovalDecided: "approval_decided", Revoked: "revoked",
	Suspended: "suspended", RateLimited: "rate_limited", BreakerTripped: "breaker_tripped",
	TokenIssued: "token_issued", AuditWritten: "audit_written", AuditStuck: "audit_stuck",
	HTTPRequest: "http_request", StoreError: "store_error", TenantOpened: "tenant_opened",
	TenantClosed: "tenant_closed", ChainBreak: "chain_break", ShadowDisagreed: "shadow_disagreed",
}

// String returns the kind's snake_case name.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Event is something other than a check that an operator counts. Which
// fields are set depends on Kind.
type Event struct {
	Kind    Kind
	Tenant  string
	Agent   string
	Tool    string
	Outcome string
	// N counts records (AuditWritten); Pending is the audit queue's depth
	// after them.
	N, Pending int64
	// Route, Status and Duration describe an HTTPRequest.
	Route    string
	Status   int
	Duration time.Duration
}
