// Package agenttrust is runtime authorization for AI agents: before an
// agent takes a consequential action, Check answers whether this agent may
// use this tool on this resource, right now, on whose behalf — allow, deny
// or needs-approval, with a reason — and records the answer in a
// hash-chained audit trail.
//
// # Quick start
//
//	policy, err := agenttrust.LoadPolicyFile("policy.yaml")
//	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
//	defer c.Close()
//	d, err := c.Check(ctx, agenttrust.Request{
//		AgentID: "billing-bot", Tool: "payments.charge", Resource: "cust-42",
//		Attributes: map[string]any{"amount": 40},
//	})
//	if !d.Allowed() { return errors.New(d.Reason) }
//
// middleware.Guard wraps a tool function so it cannot run unless allowed.
//
// # Decisions
//
// A Decision is a value: Deny (the zero value), Allow or NeedsApproval,
// with the deciding rule, a reason and a time-ordered ID. Deny and
// NeedsApproval are results, not errors. An error means the check could
// not be made properly (bad input, store or audit trouble) and always
// comes with a Deny: agenttrust fails closed.
//
// The phases of a check, each its own small function: validation,
// credential, revocation and suspension (one store lookup), rate limits,
// policy, approval, runaway breaker, audit.
//
// # Policy
//
// The built-in rule engine reads rules from JSON or YAML (LoadPolicyFile,
// ParsePolicy) or Go values (Policy). A rule names agents, tools and
// resources as globs ('*' is the only wildcard) and conditions in one
// grammar shared with credential caveats:
//
//	attr.amount <= 50      tool in payments.charge,calendar.*
//	resource in mailbox:alice/*    session = s1    ip in 10.0.0.0/8
//
// A missing attribute, a string where a number is due, NaN or an infinity
// makes a condition false. Precedence: deny > needs_approval > allow >
// default (deny). Rules are indexed by agent and tool, so a check costs the
// same with ten rules or a hundred thousand.
//
// # Approvals
//
// A needs_approval decision opens a pending Approval bound to a
// fingerprint of the exact request and of all an approver is shown (agent,
// tool, resource, session, on-behalf-of, every attribute, and the rule's
// id, reason and approvers). Approve by a principal other than the agent grants it;
// the same request is then allowed once within the grant's lifetime.
// WaitApproval blocks until a decision; a Notifier hears of new approvals.
//
// # Kill switch and limits
//
// Suspend stops an agent or session on its very next check; Resume lifts
// it; Revoke is permanent. Limits in the policy rate-limit each agent and
// tool; WithBreaker suspends an agent whose denials or call rate cross a
// threshold, and the audit says why.
//
// # Credentials and delegation
//
// An API key (atk_…, checksummed, stored as SHA-256) is exchanged for a
// short-lived token (att_…, a macaroon whose root key is HMAC-SHA256 of a
// master secret and the token id). The laws of delegation:
//
//   - A token only narrows: every caveat must hold at every use, and the
//     HMAC chain makes removing one impossible without the master secret.
//     Attenuate works offline; Delegate also records the hop.
//   - Identity comes from the credential: a Request.AgentID that names
//     another agent is denied (ErrAgentMismatch).
//   - Revoking a key kills every token derived from it; revoking a token
//     or hop kills it and everything below it; siblings live.
//   - A token passes through at most MaxDelegationDepth hops.
//
// The verification cache skips only signature work: caveats, expiry and
// revocation are evaluated on every check.
//
// # Storage and many nodes
//
// In strict mode (the default) every check asks the store for revocations
// and suspensions. WithNotify keeps them in memory, fed by the store's
// change feed, and denies when the view cannot be proven younger than
// MaxStaleness; each Decision says how old its view was.
//
// # Audit
//
// Every decision yields one AuditRecord, written off the hot path in
// batches to the configured sinks (memory ring, JSON lines, slog, the
// store). Records are hash-chained; VerifyChain detects an edited, dropped
// or reordered record. A sink that fails is retried, never skipped; when
// writes fail or hang past a bound, checks deny with ErrAuditUnavailable
// rather than act unrecorded. Attributes whose names suggest secrets are
// redacted, and a credential never enters a record.
//
// # Security notes
//
// Ids (agents, sessions, credentials) share one namespace per tenant for
// revocation and suspension: blocking an id blocks whatever carries it.
// Tool, resource and agent names are compared byte-exact after Unicode NFC
// normalisation, and a '*' in a request value is an ordinary character.
// A Client is safe for concurrent use; its zero value is not usable: build
// it with New.
package agenttrust
