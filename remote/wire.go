package remote

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// The JSON bodies of the server's API (api/openapi.yaml). Answers are
// decoded strictly but may grow: unknown keys are skipped, a key that
// differs from a known one only in case is refused, and fields without
// omitempty or omitzero must be present. So a field the client relies on
// is never silently zero.

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
	Allowed     bool   `json:"allowed"`
	Effect      string `json:"effect"`
	Reason      string `json:"reason"`
	RuleID      string `json:"rule_id"`
	DecisionID  string `json:"decision_id"`
	ApprovalID  string `json:"approval_id"`
	AgentID     string `json:"agent_id"`
	StalenessNS int64  `json:"staleness_ns"`
	Error       string `json:"error,omitempty"`
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
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

type keyView struct {
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

func (v *keyView) model() KeyInfo {
	return KeyInfo{
		Key: agenttrust.Key{
			ID: v.ID, Tenant: v.Tenant, AgentID: v.AgentID, Name: v.Name, Roles: v.Roles,
			AllowedIPs: v.AllowedIPs, Caveats: v.Caveats, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt,
		},
		Revoked: v.Revoked,
	}
}

type createKeyResponse struct {
	Secret string  `json:"secret"`
	Key    keyView `json:"key"`
}

type keyList struct {
	Keys []keyView `json:"keys"`
}

type exchangeRequest struct {
	Format   string   `json:"format,omitempty"`
	Audience string   `json:"audience,omitempty"`
	Caveats  []string `json:"caveats,omitempty"`
}

type tokenResponse struct {
	Token     string    `json:"token"`
	Format    string    `json:"format"`
	TokenID   string    `json:"token_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

type delegateRequest struct {
	Token      string   `json:"token,omitempty"`
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

type suspendRequest struct {
	Reason string `json:"reason,omitempty"`
}

type blockView struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

type blockList struct {
	Blocks []blockView `json:"blocks"`
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
	DecidedAt      time.Time       `json:"decided_at,omitzero"`
	DecidedBy      string          `json:"decided_by"`
	Note           string          `json:"note"`
	GrantExpiresAt time.Time       `json:"grant_expires_at,omitzero"`
	ConsumedAt     time.Time       `json:"consumed_at,omitzero"`
}

func (v *approvalView) model() (agenttrust.Approval, error) {
	st := store.ApprovalStatus(v.Status)
	switch st {
	case agenttrust.ApprovalPending, agenttrust.ApprovalApproved, agenttrust.ApprovalDenied, agenttrust.ApprovalConsumed:
	default:
		return agenttrust.Approval{}, fmt.Errorf("unknown approval status %q", v.Status)
	}
	return agenttrust.Approval{
		ID: v.ID, AgentID: v.AgentID, SessionID: v.SessionID, OnBehalfOf: v.OnBehalfOf,
		Tool: v.ToolName, Resource: v.Resource, Attributes: v.Attributes, Rule: v.RuleID,
		Reason: v.Reason, Approvers: v.Approvers, Status: st, CreatedAt: v.CreatedAt,
		ExpiresAt: v.ExpiresAt, DecidedAt: v.DecidedAt, DecidedBy: v.DecidedBy, Note: v.Note,
		GrantExpiresAt: v.GrantExpiresAt, ConsumedAt: v.ConsumedAt,
	}, nil
}

type approvalList struct {
	Approvals []approvalView `json:"approvals"`
}

type decideRequest struct {
	Note string `json:"note,omitempty"`
}

// auditRecord is store.AuditRecord as the server sends it (the store's
// own JSON form), with the fields every record has required.
type auditRecord struct {
	Chain        string           `json:"chain"`
	Seq          uint64           `json:"seq"`
	ID           store.DecisionID `json:"id"`
	Time         time.Time        `json:"time"`
	Tenant       string           `json:"tenant,omitempty"`
	AgentID      string           `json:"agent_id,omitempty"`
	OnBehalfOf   string           `json:"on_behalf_of,omitempty"`
	SessionID    string           `json:"session_id,omitempty"`
	Tool         string           `json:"tool,omitempty"`
	Resource     string           `json:"resource,omitempty"`
	Attributes   json.RawMessage  `json:"attributes,omitempty"`
	CredentialID string           `json:"credential_id,omitempty"`
	HopIDs       []string         `json:"hop_ids,omitempty"`
	Effect       store.Effect     `json:"effect"`
	Rule         string           `json:"rule,omitempty"`
	Reason       string           `json:"reason,omitempty"`
	ApprovalID   string           `json:"approval_id,omitempty"`
	Latency      time.Duration    `json:"latency_ns"`
	PrevHash     store.Hash       `json:"prev_hash"`
	Hash         store.Hash       `json:"hash"`
}

func (r *auditRecord) model() agenttrust.AuditRecord {
	return agenttrust.AuditRecord{
		Chain: r.Chain, Seq: r.Seq, ID: r.ID, Time: r.Time, Tenant: r.Tenant, AgentID: r.AgentID,
		OnBehalfOf: r.OnBehalfOf, SessionID: r.SessionID, Tool: r.Tool, Resource: r.Resource,
		Attributes: r.Attributes, CredentialID: r.CredentialID, HopIDs: r.HopIDs, Effect: r.Effect,
		Rule: r.Rule, Reason: r.Reason, ApprovalID: r.ApprovalID, Latency: r.Latency,
		PrevHash: r.PrevHash, Hash: r.Hash,
	}
}

type auditPage struct {
	Records []auditRecord `json:"records"`
	Next    *auditCursor  `json:"next,omitempty"`
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
	Format        string `json:"format"`
	Body          string `json:"body"`
	ExpectVersion int64  `json:"expect_version"`
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

type readyResponse struct {
	Status string `json:"status"`
	Store  string `json:"store"`
	Audit  string `json:"audit"`
}
