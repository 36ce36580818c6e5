package server

import (
	"encoding/json"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// The JSON bodies of the API. api/openapi.yaml describes the same shapes,
// and TestOpenAPI holds the two together.

type checkRequest struct {
	AgentID    string         `json:"agent_id,omitempty"`
	ToolName   string         `json:"tool_name"`
	Resource   string         `json:"resource,omitempty"`
	SessionID  string         `json:"session_id,omitempty"`
	OnBehalfOf string         `json:"on_behalf_of,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Credential string         `json:"credential,omitempty"`
}

type checkResponse struct {
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

type principalView struct {
	Tenant       string   `json:"tenant"`
	AgentID      string   `json:"agent_id"`
	KeyID        string   `json:"key_id"`
	CredentialID string   `json:"credential_id"`
	HopIDs       []string `json:"hop_ids"`
	Roles        []string `json:"roles"`
}

type createKeyRequest struct {
	AgentID    string     `json:"agent_id"`
	Name       string     `json:"name,omitempty"`
	Roles      []string   `json:"roles,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	AllowedIPs []string   `json:"allowed_ips,omitempty"`
	Caveats    []string   `json:"caveats,omitempty"`
}

type tenantKeyRequest struct {
	AgentID    string     `json:"agent_id"`
	Name       string     `json:"name,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	AllowedIPs []string   `json:"allowed_ips,omitempty"`
}

type keyView struct {
	ID         string     `json:"id"`
	Tenant     string     `json:"tenant"`
	AgentID    string     `json:"agent_id"`
	Name       string     `json:"name"`
	Roles      []string   `json:"roles"`
	AllowedIPs []string   `json:"allowed_ips"`
	Caveats    []string   `json:"caveats"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Revoked    bool       `json:"revoked"`
}

type createKeyResponse struct {
	// Secret is the API key itself, shown this once.
	Secret string  `json:"secret"`
	Key    keyView `json:"key"`
}

type keyList struct {
	Keys []keyView `json:"keys"`
}

type exchangeRequest struct {
	Format   string   `json:"format,omitempty"`   // "macaroon" (default) or "jwt"
	Audience string   `json:"audience,omitempty"` // required for "jwt"
	Caveats  []string `json:"caveats,omitempty"`
}

type tokenResponse struct {
	Token     string    `json:"token"`
	Format    string    `json:"format"`
	TokenID   string    `json:"token_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

type delegateRequest struct {
	Token      string   `json:"token,omitempty"` // default: the bearer token
	TTLSeconds int64    `json:"ttl_seconds,omitempty"`
	Caveats    []string `json:"caveats,omitempty"`
}

type delegateResponse struct {
	Token string  `json:"token"`
	Hop   hopView `json:"hop"`
}

type hopView struct {
	ID        string    `json:"id"`
	Parent    string    `json:"parent"`
	TokenID   string    `json:"token_id"`
	KeyID     string    `json:"key_id"`
	AgentID   string    `json:"agent_id"`
	Caveats   []string  `json:"caveats"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type inspectRequest struct {
	Token string `json:"token"`
}

type tokenInfo struct {
	ID        string    `json:"id"`
	KeyID     string    `json:"key_id"`
	Tenant    string    `json:"tenant"`
	AgentID   string    `json:"agent_id"`
	ExpiresAt time.Time `json:"expires_at"`
	HopIDs    []string  `json:"hop_ids"`
	Caveats   []string  `json:"caveats"`
}

type revokeRequest struct {
	ID string `json:"id"`
}

type blockView struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Reason    string     `json:"reason"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

type blockList struct {
	Blocks []blockView `json:"blocks"`
}

type suspendRequest struct {
	Reason string `json:"reason,omitempty"`
}

type approvalView struct {
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
	DecidedAt      *time.Time      `json:"decided_at,omitempty"`
	DecidedBy      string          `json:"decided_by"`
	Note           string          `json:"note"`
	GrantExpiresAt *time.Time      `json:"grant_expires_at,omitempty"`
	ConsumedAt     *time.Time      `json:"consumed_at,omitempty"`
}

type approvalList struct {
	Approvals []approvalView `json:"approvals"`
}

type decideRequest struct {
	Note string `json:"note,omitempty"`
}

type auditPage struct {
	Records []store.AuditRecord `json:"records"`
	// Next is the cursor of the following page; absent on the last page.
	Next *auditCursor `json:"next,omitempty"`
}

type auditCursor struct {
	AfterChain string `json:"after_chain"`
	AfterSeq   uint64 `json:"after_seq"`
}

type verifyResponse struct {
	OK     bool          `json:"ok"`
	Chains []chainReport `json:"chains"`
}

type chainReport struct {
	Chain    string      `json:"chain"`
	OK       bool        `json:"ok"`
	Records  int         `json:"records"`
	FirstSeq uint64      `json:"first_seq"`
	LastSeq  uint64      `json:"last_seq"`
	HeadHash string      `json:"head_hash"`
	Problem  *chainBreak `json:"problem,omitempty"`
}

type chainBreak struct {
	Seq     uint64 `json:"seq"`
	Message string `json:"message"`
}

type policyView struct {
	Version   int64     `json:"version"`
	Format    string    `json:"format"`
	Body      string    `json:"body"`
	UpdatedAt time.Time `json:"updated_at"`
}

type putPolicyRequest struct {
	Format string `json:"format"`
	Body   string `json:"body"`
	// ExpectVersion is the version being replaced, 0 when there is none.
	ExpectVersion *int64 `json:"expect_version"`
}

type putPolicyResponse struct {
	Version int64 `json:"version"`
}

type validatePolicyRequest struct {
	Format string `json:"format"`
	Body   string `json:"body"`
}

type validatePolicyResponse struct {
	Valid    bool            `json:"valid"`
	Problems []policyProblem `json:"problems"`
}

type policyProblem struct {
	Rule    string `json:"rule"`
	Index   int    `json:"index"`
	Message string `json:"message"`
}

type healthResponse struct {
	Status string `json:"status"`
}

type readyResponse struct {
	Status string `json:"status"` // "ready" or "unavailable"
	Store  string `json:"store"`  // "ok" or the failure
	Audit  string `json:"audit"`  // "ok" or "stuck"
}

func viewKey(k agenttrust.Key, revoked bool) keyView {
	v := keyView{
		ID: k.ID, Tenant: k.Tenant, AgentID: k.AgentID, Name: k.Name,
		Roles: nonNil(k.Roles), AllowedIPs: nonNil(k.AllowedIPs), Caveats: nonNil(k.Caveats),
		CreatedAt: k.CreatedAt, ExpiresAt: timePtr(k.ExpiresAt), Revoked: revoked,
	}
	return v
}

func viewHop(h agenttrust.Hop) hopView {
	return hopView{ID: h.ID, Parent: h.Parent, TokenID: h.TokenID, KeyID: h.KeyID, AgentID: h.AgentID,
		Caveats: nonNil(h.Caveats), CreatedAt: h.CreatedAt, ExpiresAt: h.ExpiresAt}
}

func viewApproval(a agenttrust.Approval) approvalView {
	attrs := a.Attributes
	if len(attrs) == 0 {
		attrs = json.RawMessage("{}")
	}
	return approvalView{
		ID: a.ID, AgentID: a.AgentID, SessionID: a.SessionID, OnBehalfOf: a.OnBehalfOf,
		ToolName: a.Tool, Resource: a.Resource, Attributes: attrs, RuleID: a.Rule, Reason: a.Reason,
		Approvers: nonNil(a.Approvers), Status: string(a.Status), CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt,
		DecidedAt: timePtr(a.DecidedAt), DecidedBy: a.DecidedBy, Note: a.Note,
		GrantExpiresAt: timePtr(a.GrantExpiresAt), ConsumedAt: timePtr(a.ConsumedAt),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
