package replay

import (
	"strings"

	"github.com/agenttrust/agenttrust"
)

// Phase names what decided a record that replay cannot decide again:
// the policy did not have the last word on it, so a new policy would not
// change its outcome (or replay cannot tell what the policy would have
// been asked).
type Phase string

// The phases of a check, and the records that are no check, that replay
// leaves as they were.
const (
	// PhaseValidation: the request was refused before any rule was
	// consulted (malformed, too many attributes, a reserved tool name).
	PhaseValidation Phase = "validation"
	// PhaseCredential: the credential was rejected (bad signature,
	// expired, a caveat that does not hold, suspended).
	PhaseCredential Phase = "credential"
	// PhaseRevocation: the agent, session or credential was revoked or
	// suspended, or the view of revocations was too stale to trust.
	PhaseRevocation Phase = "revocation"
	// PhaseLimit: a rate limit refused the request.
	PhaseLimit Phase = "limit"
	// PhaseApproval: a granted approval was consumed (the policy had
	// asked for one).
	PhaseApproval Phase = "approval"
	// PhaseBreaker: the runaway breaker turned the decision into a deny.
	PhaseBreaker Phase = "breaker"
	// PhaseBudget: a budget of the credential's chain refused what the
	// policy allowed (exhausted, an amount it cannot count, a store
	// without budgets); the record does not keep the budget's state.
	PhaseBudget Phase = "budget"
	// PhaseUnavailable: the store (revocations, a cluster limit, the
	// approvals) or the audit was down, or the client closed.
	PhaseUnavailable Phase = "unavailable"
	// PhaseOperator: no check at all, but an operator action (approve,
	// revoke, save a policy...) or a note that a decision was withdrawn.
	PhaseOperator Phase = "operator"
)

// The reasons and rules the checks of package agenttrust write for the
// phases before and after the policy. They are part of the audit
// record's meaning: a test makes each phase happen through a real client
// and checks that its record is told apart here.
const (
	reasonInvalid           = "invalid request"
	reasonStoreDown         = "store unavailable"
	reasonAuditDown         = "audit unavailable"
	reasonViewStale         = "revocation view stale"
	reasonClosed            = "client closed"
	reasonRateLimited       = "rate limit exceeded"
	reasonAgentRevoked      = "agent revoked"
	reasonSessionRevoked    = "session revoked"
	reasonAgentSuspended    = "agent suspended"
	reasonSessionSuspend    = "session suspended"
	reasonCredentialError   = "credential rejected"
	reasonCredentialRevoked = "credential revoked"
	reasonBudget            = "budget exhausted"
	reasonBudgetNoStore     = "budgets unavailable"
	reasonBudgetAmount      = "budget amount unavailable"
	reasonApprovalTooLarge  = "attributes too large for an approval"
	reasonTooManyApprovals  = "too many open approvals for this agent"
	ruleBudgetPrefix        = "budget:"
	// internalPrefix starts the tools of operator records and the rules
	// the client itself writes (agenttrust.breaker,
	// agenttrust.audit_withdrawn).
	internalPrefix = "agenttrust."
	ruleBreaker    = "agenttrust.breaker"
)

// approvalRefused reports whether r is a deny of the approval phase for
// a request the policy held for approval by r.Rule: the agent held too
// many open approvals, or its attributes were too large for one. The
// policy's own answer was needs_approval by that rule.
func approvalRefused(r *agenttrust.AuditRecord) bool {
	return r.Effect == agenttrust.Deny && r.Rule != "" &&
		(r.Reason == reasonApprovalTooLarge || r.Reason == reasonTooManyApprovals)
}

// PhaseOf returns the phase that decided r, or "" when the policy did:
// then r is replayable. A rule of the policy whose reason reads like one
// of another phase ("rate limit exceeded") is taken for that phase: the
// mistake leaves the record out of the replay, never in it wrongly.
func PhaseOf(r *agenttrust.AuditRecord) Phase {
	if strings.HasPrefix(r.Tool, internalPrefix) {
		return PhaseOperator
	}
	if r.Rule == ruleBreaker {
		return PhaseBreaker
	}
	if strings.HasPrefix(r.Rule, internalPrefix) {
		return PhaseOperator // a note the client wrote, such as a withdrawal
	}
	if strings.HasPrefix(r.Rule, ruleBudgetPrefix) || r.Reason == reasonBudgetNoStore || r.Reason == reasonBudgetAmount ||
		strings.HasPrefix(r.Reason, reasonBudget+":") {
		return PhaseBudget
	}
	switch r.Reason {
	case reasonInvalid:
		return PhaseValidation
	case reasonCredentialError:
		return PhaseCredential
	case reasonAgentRevoked, reasonSessionRevoked, reasonCredentialRevoked,
		reasonAgentSuspended, reasonSessionSuspend, reasonViewStale:
		if r.Rule == "" {
			return PhaseRevocation
		}
	case reasonRateLimited:
		return PhaseLimit
	case reasonStoreDown:
		// With a rule too: a limit kept in the store, or the approval
		// store, failed after the rule was named.
		return PhaseUnavailable
	case reasonAuditDown, reasonClosed:
		if r.Rule == "" {
			return PhaseUnavailable
		}
	}
	if r.Effect == agenttrust.Allow && r.ApprovalID != "" {
		return PhaseApproval
	}
	return ""
}
