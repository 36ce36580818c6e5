package agenttrust

import (
	"context"
	"errors"
	"time"

	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
)

// observeCheck tells the observer what a check decided: a copy of each
// value, never a reference to the check's pooled state.
func (c *Client) observeCheck(ctx context.Context, req *Request, start time.Time, d *Decision, err error) {
	c.obs.Check(ctx, observe.Check{
		Tenant: c.tenant, Agent: d.AgentID, Tool: req.Tool,
		Effect: d.Effect.String(), Rule: d.Rule, Reason: d.Reason, Code: ErrorCode(err),
		DecisionID: d.ID, Start: start, Duration: c.clock.Now().Sub(start),
	})
	if err == nil && d.Reason == reasonRateLimited {
		c.obs.Event(ctx, observe.Event{Kind: observe.RateLimited, Tenant: c.tenant, Agent: d.AgentID, Tool: req.Tool})
	}
}

// event tells the observer, if there is one, of e in this client's tenant.
func (c *Client) event(ctx context.Context, e observe.Event) {
	if c.obs != nil {
		e.Tenant = c.tenant
		c.obs.Event(ctx, e)
	}
}

// errorCodes maps the library's errors to API error codes, most specific
// first. The same codes appear in a check response's "error" field.
var errorCodes = []struct {
	err  error
	code string
}{
	{ErrKeyChecksum, "key_checksum"},
	{ErrCredentialTooLarge, "credential_too_large"},
	{ErrMalformedCredential, "malformed_credential"},
	{ErrRevoked, "revoked"},
	{ErrSuspended, "suspended"},
	{ErrUnsupportedCredential, "unsupported_credential"},
	{ErrUnknownKey, "unknown_key"},
	{ErrBadSignature, "bad_signature"},
	{ErrExpired, "expired"},
	{ErrIPNotAllowed, "ip_not_allowed"},
	{ErrCaveat, "caveat"},
	{ErrAgentMismatch, "agent_mismatch"},
	{ErrDelegationDepth, "delegation_depth"},
	{ErrAudience, "audience"},
	{ErrAlgorithm, "algorithm"},
	{ErrUnauthorized, "unauthorized"},
	{ErrInvalidRequest, "invalid_request"},
	{ErrInvalidPolicy, "invalid_policy"},
	{ErrChainBroken, "audit_chain_broken"},
	{ErrStoreUnavailable, "store_unavailable"},
	{ErrAuditUnavailable, "audit_unavailable"},
	{ErrPolicyEngine, "policy_engine"},
	{ErrClosed, "closed"},
	{ErrApprovalNotFound, "not_found"},
	{ErrApprovalResolved, "approval_resolved"},
	{ErrApproverNotAllowed, "approver_not_allowed"},
	{ErrNotFound, "not_found"},
	{store.ErrConflict, "conflict"},
	{store.ErrNotFound, "not_found"},
	{store.ErrUnavailable, "store_unavailable"},
	{store.ErrClosed, "store_unavailable"},
	{context.DeadlineExceeded, "timeout"},
	{context.Canceled, "canceled"},
}

// ErrorCode returns the stable snake_case code of err, as the HTTP API
// names it in an error response and in a check's "error" field, and as
// observe.Check.Code reports it: "revoked", "store_unavailable",
// "invalid_request", ... It returns "internal" for an error it does not
// know, and "" for nil.
func ErrorCode(err error) string {
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
