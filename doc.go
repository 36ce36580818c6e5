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
// resources as globs and conditions in one grammar shared with credential
// caveats:
//
//	attr.amount <= 50      tool in payments.charge,calendar.*
//	resource in mailbox:alice/*    session = s1    ip in 10.0.0.0/8
//
// In agent and tool globs '*' matches any run ("payments.*" matches
// "payments.charge.refund"). In resource globs '*' stays within one
// '/'-separated segment and "**" crosses segments: "mailbox:alice/*"
// matches "mailbox:alice/inbox" but not "mailbox:alice/inbox/2024", which
// "mailbox:alice/**" matches. Deny and needs_approval rules also hold a
// resource as routers and file systems read it bare, without trailing
// slashes, a query or fragment, or ";" path parameters: a deny on
// "/admin" denies "/admin/", "/admin?x" and "/admin;x" too, and one on
// "/admin/" denies "/admin/?x". Allow rules match only the resource as
// written.
//
// A condition that cannot be evaluated on a request (a missing attribute,
// a string where a number is due, NaN or an infinity, no remote address
// for an "ip" condition) never lets a request through: an allow rule does
// not match, and when a deny or needs_approval rule with such a condition
// would decide, Check denies with an error matching ErrUnevaluable; a
// caveat with one does not hold. "attr.NAME?" declares a missing
// attribute fine (the condition is false then), as a Cedar "has" guard
// does. A policy may declare attribute types per tool (Policy.Attributes),
// refusing mistyped or missing attributes before any rule; validation
// refuses a policy that compares one attribute with two types.
// Precedence: deny > needs_approval > allow > default (deny). Rules are
// indexed by agent and tool, so a check costs the same with ten rules or
// a hundred thousand.
//
// # Approvals
//
// A needs_approval decision opens a pending Approval bound to a
// fingerprint of the exact request and of all an approver is shown (agent,
// tool, resource, session, on-behalf-of, every attribute, and the rule's
// id, reason, approvers and approval timeout). Approve by a principal
// other than the agent grants it; the same request is then allowed once
// within the grant's lifetime. An agent holds at most 100 approvals open
// on a client, each of at most 64 KiB of attributes: a check that would
// open one more, or a larger one, is denied. WaitApproval blocks until a
// decision; the function given to WithNotifier hears of new approvals.
//
// # Kill switch and limits
//
// Suspend stops an agent or session on its very next check; Resume lifts
// it; Revoke is permanent. Limits in the policy rate-limit each agent and
// tool; WithBreaker suspends an agent whose denials or call rate cross a
// threshold, and the audit says why.
//
// A limit is kept by each client (Scope "node", the default), so N
// processes sharing a store allow N times its rate. Scope "cluster" keeps
// it in the store, as one GCRA state per limit, agent and tool
// (store.ClusterLimiter: memory, SQLite, PostgreSQL, MySQL and the remote
// store implement it), so the rate holds across every node: three servers on
// one PostgreSQL allow 100 of 3 x 200 concurrent calls under 100/m. Each
// check the limit matches costs one atomic statement in the store, one
// round trip (on a loaded 2-vCPU machine, a check on PostgreSQL in
// notify mode went from 1.4µs to 134µs; see the store packages). It is exact on one clock: in any window, never more than
// Burst plus the window over the time per request. Clocks of nodes that
// disagree by d can let through up to d over the time per request more,
// or refuse as many early. A take the store
// cannot make denies with ErrStoreUnavailable; a policy with a cluster
// limit over a store that holds none is refused with a *PolicyError.
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
//     another agent is denied (ErrUnauthorized).
//   - Revoking a key kills every token derived from it; revoking a token
//     or hop kills it and everything below it; siblings live.
//   - A token passes through at most 8 delegation hops.
//
// The verification cache skips only signature work: caveats, expiry and
// revocation are evaluated on every check.
//
// # Budgets
//
// A key or a delegation can carry budgets, as caveats: "budget calls <=
// 100" (calls), "budget attr.amount <= 50 USD" (the attribute amount
// summed, in requests whose attribute currency is "USD"), either ending in
// "tools payments.*,refunds.*" to count only those tools. What a budget
// counts, its currency and its tools are its name: budgets of two names
// never mix. A key's budget is spent by every token of the key; a
// delegation's budget (Delegate, or a budget caveat given to Attenuate)
// is carved out of the remaining budget of the nearest ancestor holding
// one of the same name: Delegate carves at once and fails when the parent
// has less left, an offline hop is carved at its first use (keyed by its
// hop id) and denied then.
//
// Once a check's verdict is Allow, and before it is returned, the check
// spends what the request costs under every budget of its credential's
// chain that covers its tool, all or nothing: the deepest budget of each
// name must have the amount left, and the amount counts against it and
// every ancestor's budget of that name in one store transaction. A
// budget that refuses turns the decision into a Deny whose Rule is
// "budget:<node>/<name>". A deny or a pending approval spends nothing; an
// approved request spends when it is allowed. A missing, negative,
// non-finite or too large amount, a request in a currency no budget of
// its chain holds, a store that holds no budgets (store.Budgeter: memory,
// SQLite, PostgreSQL, MySQL and the remote store do) or a store that
// fails: each denies. Revoking a key, token or hop returns the unspent
// part of every carve-out at or below it to the parent; so does a child's
// expiry, once a sibling needs the room. store.Budgeter states the model.
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
// Every decision yields one AuditRecord, written in bounded batches to
// the configured sinks (package audit has sinks for the store, memory,
// JSON lines and slog; without one a client keeps its recent records in
// memory). In the asynchronous mode (the default) a check returns once
// its record is queued; in the durable mode (AuditConfig.Durable) only
// once the record is written, so a crash loses no answered decision.
// Close writes every queued record or names each one it could not in an
// *AuditLossError. Records form a chain MACed under an AuditKey
// (AuditConfig.Key; a client without one makes its own, valid only in
// its process): VerifyChain, given the key, detects an edited, forged,
// dropped or reordered record, and the checkpoints of package audit,
// kept out of the store's reach, detect records cut from the end. A sink
// that fails or panics is retried, never skipped; when writes fail or
// hang past a bound, checks deny with ErrAuditUnavailable rather than act
// unrecorded. Attributes whose names suggest secrets are redacted, at any
// depth, and so is any agenttrust credential found in an attribute's
// value; text a store could refuse (NUL, invalid UTF-8) is recorded as
// U+FFFD.
//
// Every operator action (Approve, DenyApproval, Suspend, Resume, Revoke,
// CreateKey, SavePolicy) is recorded in the same chain, before it takes
// effect, with a Tool of "agenttrust." and the action's name, its target
// as Resource, and as AgentID and CredentialID the caller the server
// authenticated (empty for a library caller); when its record cannot be
// made the action is refused with ErrAuditUnavailable, as a check denies
// (see Suspend). Check refuses tools with that prefix.
//
// # Security notes
//
// Ids (agents, sessions, credentials) share one namespace per tenant for
// revocation and suspension: blocking an id blocks whatever carries it.
// Agent ids, tool names, session ids and on-behalf-of principals have one
// canonical form, ASCII letters, digits and . _ : / @ + -; anything else
// (invisible, look-alike, fullwidth or combining characters) is refused
// with ErrInvalidRequest, and policies and caveats cannot name it either.
// Resources are compared byte-exact after Unicode NFC normalisation; one
// with a dot segment ("." or "..", raw, percent-encoded at any depth or as
// a look-alike), an empty segment ("//", but after a leading URL scheme),
// a backslash or an encoded '/' is refused. A '*' in a
// request value is an ordinary character.
//
// # Values and concurrency
//
// A *Client is safe for concurrent use; its zero value is not usable:
// build it with New. The interfaces a client calls (Checker, PolicyEngine,
// AuditSink) and the functions given to options must be safe for
// concurrent use. Every other type is a plain value: safe to copy and to
// read from many goroutines once made, not to change while shared. Each
// type says what its zero value means.
package agenttrust
