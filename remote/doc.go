// Package remote is the client of an agenttrust server (package server,
// api/openapi.yaml): an agent process asks the server to check its actions
// instead of deciding itself, and operators run the admin API from Go.
//
// # Checking
//
//	c, err := remote.New("https://agenttrust.internal", agentKey, remote.WithRetries(2))
//	d, err := c.Check(ctx, agenttrust.Request{Tool: "payments.charge", Resource: "cust-42"})
//	if !d.Allowed() { return errors.New(d.Reason) }
//
// *Client is an agenttrust.Checker and a middleware.ApprovalWaiter, so
// middleware.Guard takes it as it takes a local *agenttrust.Client. Check
// fails closed: when the server cannot be reached, is slow past
// WithTimeout, fails or answers anything but a well-formed, consistent
// decision, the result is a Deny with reason ReasonUnreachable and an
// error matching agenttrust.ErrStoreUnavailable. It never returns an Allow
// with an error.
//
// # Verifying bearers
//
// Authenticate verifies another caller's credential through the server
// (GET /v1/whoami with that credential) and returns its Principal, so
// *Client is the Authenticator of middleware/mcp.TokenVerifier for an MCP
// server fronting a central agenttrust server:
//
//	c, err := remote.New("https://agenttrust.internal", mcpServerKey)
//	verify := mcp.TokenVerifier(c, "https://mcp.example.com/mcp")
//
// The agenttrust server must accept the MCP server's URI as a JWT
// audience (serve --audience).
//
// # Admin operations
//
// Keys (CreateKey, ListKeys, RevokeKey), tokens (Exchange, ExchangeJWT,
// Delegate, InspectToken), the kill switch (Revoke, Suspend, Resume,
// Blocks), approvals (Approvals, Approval, Approve, DenyApproval,
// WaitApproval), audit (QueryAudit, VerifyAudit), policy (Policy,
// ValidatePolicy, ApplyPolicy), PublicKeys, Health and Whoami, each in the
// tenant of the client's credential and allowed by its roles. Server
// errors come back as *Error matching the sentinels of package agenttrust
// (see Error), plus ErrForbidden and ErrConflict.
//
// # Retries and timeouts
//
// WithTimeout bounds each HTTP attempt (5s by default); the caller's
// context bounds a whole call. WithRetries repeats calls that are safe to
// repeat (reads, Check, Revoke, Suspend) after a transport failure or a
// 502, 503 or 504, with exponential backoff and jitter; calls that create
// or move state (CreateKey, Exchange, Delegate, Approve, Resume,
// ApplyPolicy) are never repeated.
//
// # State and policy on the server
//
// A process that decides locally can still keep its state and its policy
// on the server, through the server's store API (mounted at /v1/store/
// for admins of the system tenant by "agenttrust serve --store-api"):
//
//	st, err := remote.NewStore(url, systemAdminKey)         // a store.Store
//	eng, err := remote.NewPolicyEngine(url, systemAdminKey) // an agenttrust.PolicyEngine
//	c, err := agenttrust.New(st, agenttrust.WithTenant("acme"), agenttrust.WithPolicyEngine(eng))
//
// NewAuditSink writes audit batches through the same API. These speak the
// wire format of the store API, not the public API above.
//
// # Security
//
// The credential is sent as "Authorization: Bearer" on every request and
// never appears in errors. Plain http is refused except to loopback
// addresses, unless WithInsecureHTTP says otherwise. A Client is safe for
// concurrent use.
package remote
