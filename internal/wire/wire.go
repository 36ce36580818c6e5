// Package wire defines the JSON bodies of the HTTP API, shared by the
// server and its Go client (remote) so the two cannot drift apart.
// api/openapi.yaml describes the same shapes, and the server's TestOpenAPI
// holds the two together.
//
// Optional times are time.Time with omitzero: absent when zero. Fields
// without omitempty or omitzero are always present in an answer, and the
// client requires them.
package wire

import (
	"encoding/json"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

type CheckRequest struct {
	AgentID    string     `json:"agent_id,omitempty"`
	ToolName   string     `json:"tool_name"`
	Resource   string     `json:"resource,omitempty"`
	SessionID  string     `json:"session_id,omitempty"`
	OnBehalfOf string     `json:"on_behalf_of,omitempty"`
	Attributes Attributes `json:"attributes,omitempty"`
	Credential string     `json:"credential,omitempty"`
}

type CheckResponse struct {
	Allowed    bool   `json:"allowed"`
	Effect     string `json:"effect"`
	Reason     string `json:"reason"`
	RuleID     string `json:"rule_id"`
	DecisionID string `json:"decision_id"`
	ApprovalID string `json:"approval_id"`
	AgentID    string `json:"agent_id"`
	// StalenessNS is how old the view of revocations was (0: read from
	// the store during the check).
	StalenessNS int64 `json:"staleness_ns"`
	// Error is set when the check could not be made properly; the
	// decision is then a deny.
	Error string `json:"error,omitempty"`
}

type PrincipalView struct {
	Tenant       string   `json:"tenant"`
	AgentID      string   `json:"agent_id"`
	KeyID        string   `json:"key_id"`
	CredentialID string   `json:"credential_id"`
	HopIDs       []string `json:"hop_ids"`
	Roles        []string `json:"roles"`
	Caveats      []string `json:"caveats"`
}

type CreateKeyRequest struct {
	AgentID    string     `json:"agent_id"`
	Name       string     `json:"name,omitempty"`
	Roles      []string   `json:"roles,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	AllowedIPs []string   `json:"allowed_ips,omitempty"`
	Caveats    []string   `json:"caveats,omitempty"`
}

type TenantKeyRequest struct {
	AgentID    string     `json:"agent_id"`
	Name       string     `json:"name,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	AllowedIPs []string   `json:"allowed_ips,omitempty"`
}

type KeyView struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	AgentID    string    `json:"agent_id"`
	Name       string    `json:"name"`
	Roles      []string  `json:"roles"`
	AllowedIPs []string  `json:"allowed_ips"`
	Caveats    []string  `json:"caveats"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	Revoked    bool      `json:"revoked"`
}

type CreateKeyResponse struct {
	// Secret is the API key itself, shown this once.
	Secret string  `json:"secret"`
	Key    KeyView `json:"key"`
}

type KeyList struct {
	Keys []KeyView `json:"keys"`
}

type ExchangeRequest struct {
	Format   string   `json:"format,omitempty"`   // "macaroon" (default) or "jwt"
	Audience string   `json:"audience,omitempty"` // required for "jwt"
	Caveats  []string `json:"caveats,omitempty"`
}

type TokenResponse struct {
	Token     string    `json:"token"`
	Format    string    `json:"format"`
	TokenID   string    `json:"token_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

type DelegateRequest struct {
	Token      string   `json:"token,omitempty"` // default: the bearer token
	TTLSeconds int64    `json:"ttl_seconds,omitempty"`
	Caveats    []string `json:"caveats,omitempty"`
}

type DelegateResponse struct {
	Token string  `json:"token"`
	Hop   HopView `json:"hop"`
}

type HopView struct {
	ID        string    `json:"id"`
	Parent    string    `json:"parent"`
	TokenID   string    `json:"token_id"`
	KeyID     string    `json:"key_id"`
	AgentID   string    `json:"agent_id"`
	Caveats   []string  `json:"caveats"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type InspectRequest struct {
	Token string `json:"token"`
}

type TokenInfo struct {
	ID        string    `json:"id"`
	KeyID     string    `json:"key_id"`
	Tenant    string    `json:"tenant"`
	AgentID   string    `json:"agent_id"`
	ExpiresAt time.Time `json:"expires_at"`
	HopIDs    []string  `json:"hop_ids"`
	Caveats   []string  `json:"caveats"`
}

type RevokeRequest struct {
	ID string `json:"id"`
}

type BlockView struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

type BlockList struct {
	Blocks []BlockView `json:"blocks"`
}

// BudgetView is one budget of a node (a key, token or hop id), in units:
// one per call, or Scale per unit of an attribute's amount.
type BudgetView struct {
	Name      string    `json:"name"`
	Limit     int64     `json:"limit"`
	Spent     int64     `json:"spent"`
	Carved    int64     `json:"carved"`
	Remaining int64     `json:"remaining"`
	Scale     int64     `json:"scale"`
	Holder    string    `json:"holder,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Released  bool      `json:"released"`
}

type BudgetList struct {
	Node    string       `json:"node"`
	Budgets []BudgetView `json:"budgets"`
}

type SuspendRequest struct {
	Reason string `json:"reason,omitempty"`
}

type ApprovalView struct {
	ID             string          `json:"id"`
	AgentID        string          `json:"agent_id"`
	SessionID      string          `json:"session_id"`
	OnBehalfOf     string          `json:"on_behalf_of"`
	ToolName       string          `json:"tool_name"`
	Resource       string          `json:"resource"`
	Attributes     json.RawMessage `json:"attributes"`
	RuleID         string          `json:"rule_id"`
	Reason         string          `json:"reason"`
	Approvers      []string        `json:"approvers"`
	Status         string          `json:"status"`
	CreatedAt      time.Time       `json:"created_at"`
	ExpiresAt      time.Time       `json:"expires_at"`
	DecidedAt      time.Time       `json:"decided_at,omitzero"`
	DecidedBy      string          `json:"decided_by"`
	Note           string          `json:"note"`
	GrantExpiresAt time.Time       `json:"grant_expires_at,omitzero"`
	ConsumedAt     time.Time       `json:"consumed_at,omitzero"`
	// GrantID names the grant an approval remembered with was made into;
	// only in the answer to that approval.
	GrantID string `json:"grant_id,omitempty"`
}

type ApprovalList struct {
	Approvals []ApprovalView `json:"approvals"`
}

type DecideRequest struct {
	Note     string    `json:"note,omitempty"`
	Remember *Remember `json:"remember,omitempty"`
}

// Remember asks that an approval also allow later requests like it.
type Remember struct {
	Uses      int      `json:"uses"`
	ValidFor  string   `json:"valid_for"`
	Resources []string `json:"resources,omitempty"`
}

type GrantView struct {
	ID         string    `json:"id"`
	ApprovalID string    `json:"approval_id"`
	AgentID    string    `json:"agent_id"`
	OnBehalfOf string    `json:"on_behalf_of"`
	ToolName   string    `json:"tool_name"`
	RuleID     string    `json:"rule_id"`
	Resource   string    `json:"resource"`
	Resources  []string  `json:"resources"`
	UsesLeft   int       `json:"uses_left"`
	ExpiresAt  time.Time `json:"expires_at"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
}

type GrantList struct {
	Grants []GrantView `json:"grants"`
}

type AuditPage struct {
	Records []store.AuditRecord `json:"records"`
	// Next is the cursor of the following page; absent on the last page.
	Next *AuditCursor `json:"next,omitempty"`
}

type AuditCursor struct {
	AfterChain string `json:"after_chain"`
	AfterSeq   uint64 `json:"after_seq"`
}

type VerifyResponse struct {
	OK     bool          `json:"ok"`
	Chains []ChainReport `json:"chains"`
}

type ChainReport struct {
	Chain    string `json:"chain"`
	OK       bool   `json:"ok"`
	Records  int    `json:"records"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	HeadHash string `json:"head_hash"`
	// CheckpointSeq is where this node's checkpoint of the chain stands;
	// 0 when the node has none (a chain of another node).
	CheckpointSeq uint64      `json:"checkpoint_seq,omitempty"`
	Problem       *ChainBreak `json:"problem,omitempty"`
}

type ChainBreak struct {
	Seq     uint64 `json:"seq"`
	Message string `json:"message"`
}

type PolicyView struct {
	Version   int64     `json:"version"`
	Format    string    `json:"format"`
	Body      string    `json:"body"`
	UpdatedAt time.Time `json:"updated_at"`
}

type PutPolicyRequest struct {
	Format string `json:"format"`
	Body   string `json:"body"`
	// ExpectVersion is the version being replaced, 0 when there is none.
	ExpectVersion *int64 `json:"expect_version"`
}

type PutPolicyResponse struct {
	Version int64 `json:"version"`
}

type ValidatePolicyRequest struct {
	Format string `json:"format"`
	Body   string `json:"body"`
}

type ValidatePolicyResponse struct {
	Valid    bool            `json:"valid"`
	Problems []PolicyProblem `json:"problems"`
}

type PolicyProblem struct {
	Rule    string `json:"rule"`
	Index   int    `json:"index"`
	Message string `json:"message"`
}

type HealthResponse struct {
	Status string `json:"status"`
}

type ReadyResponse struct {
	Status string `json:"status"` // "ready" or "unavailable"
	Store  string `json:"store"`  // "ok" or the failure
	Audit  string `json:"audit"`  // "ok", "stuck" or "chain_broken"
}

type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// JWK is one public key of a JWKS (RFC 7517): an Ed25519 key (RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKSet is a JSON Web Key Set.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}
