package agenttrust

import (
	"net/netip"
	"time"

	"github.com/agenttrust/agenttrust/internal/cond"
)

// Request is one action an agent wants to take. AgentID and Tool are
// required unless a credential names the agent. Check reads Attributes only
// during the call and keeps nothing of them but the audit record's redacted
// copy. A plain value; the zero Request is refused with ErrInvalidRequest.
type Request struct {
	AgentID    string
	Tool       string
	Resource   string
	SessionID  string
	OnBehalfOf string
	// Credential is an API key, a token or a JWT. It is never logged or
	// audited; only its id is.
	Credential string
	RemoteAddr netip.Addr
	Attributes map[string]any
	// VouchedBy is the id of the admin key that vouches for a request
	// without a credential, when a server checks on an admin's word. It
	// is recorded with the decision; it grants nothing.
	VouchedBy string
	// RequestID names the request that asked for this check where the
	// caller keeps its own ids (the server passes its X-Request-Id), so
	// the audit record can be found from a log line and back. It is
	// recorded with the decision, under the chain's MAC; it grants
	// nothing. At most 128 bytes of visible ASCII; empty for none.
	RequestID string
}

// Decision is the answer to a Request. The zero Decision denies. A plain
// value, safe to copy and share.
type Decision struct {
	Effect Effect
	// Reason says why, for people and agents; it never holds a secret.
	Reason string
	// Rule is the id of the policy rule that decided, if one did.
	Rule string
	ID   DecisionID
	// ApprovalID names the pending approval of a NeedsApproval decision, or
	// the consumed approval that turned this request into an Allow.
	ApprovalID string
	// AgentID is the agent the decision is about: the one the credential
	// names when the request carried one.
	AgentID string
	// CredentialID is the id of the key or token used (never the secret);
	// HopIDs are the delegation hops the token passed through, oldest first.
	CredentialID string
	HopIDs       []string
	// VouchedBy is Request.VouchedBy: the admin key that vouched.
	VouchedBy string
	// Staleness is how old the view of revocations and suspensions was
	// when the decision was made; zero when it was read from the store
	// during the check.
	Staleness time.Duration
}

// Allowed reports whether the action may proceed.
func (d Decision) Allowed() bool { return d.Effect == Allow }

// requestEnv is the condition environment of req: what caveats and policy
// conditions are evaluated on, assembled in this one place. kvs, when not
// nil, are req's attributes as captured; hops are the credential's.
func requestEnv(tenant string, req *Request, kvs []attrKV, hops []string, now time.Time) cond.Env {
	return cond.Env{
		Agent: req.AgentID, Tool: req.Tool, Resource: req.Resource, Session: req.SessionID,
		OnBehalfOf: req.OnBehalfOf, Tenant: tenant, Attributes: req.Attributes, List: kvs,
		IP: req.RemoteAddr, Now: now, Hops: hops,
	}
}
