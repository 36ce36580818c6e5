package storeapi

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// Wire shapes of the store model. Fields without omitempty or omitzero are
// required when decoding. Times are RFC 3339 in UTC with nanoseconds and
// omitted when zero; hashes are 64 lowercase hex characters; byte fields
// that hold JSON travel raw when they are compact valid JSON and as base64
// in a sibling "..._base64" field otherwise, so every byte comes back.

type wireBlock struct {
	Tenant    string    `json:"tenant"`
	ID        string    `json:"id"`
	Kind      string    `json:"kind,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func toWireBlock(b store.Block) wireBlock {
	w := wireBlock{Tenant: b.Tenant, ID: b.ID, Reason: b.Reason, CreatedAt: utc(b.CreatedAt), ExpiresAt: utc(b.ExpiresAt)}
	if b.Kind == store.Revoked || b.Kind == store.Suspended {
		w.Kind = b.Kind.String()
	}
	return w
}

func (w *wireBlock) model() (store.Block, error) {
	b := store.Block{Tenant: w.Tenant, ID: w.ID, Reason: w.Reason, CreatedAt: w.CreatedAt, ExpiresAt: w.ExpiresAt}
	if w.Kind != "" {
		if err := b.Kind.UnmarshalText([]byte(w.Kind)); err != nil {
			return store.Block{}, err
		}
	}
	return b, nil
}

type wireApproval struct {
	ID               string          `json:"id"`
	Tenant           string          `json:"tenant"`
	Fingerprint      string          `json:"fingerprint,omitempty"`
	AgentID          string          `json:"agent_id,omitempty"`
	SessionID        string          `json:"session_id,omitempty"`
	OnBehalfOf       string          `json:"on_behalf_of,omitempty"`
	Tool             string          `json:"tool,omitempty"`
	Resource         string          `json:"resource,omitempty"`
	Attributes       json.RawMessage `json:"attributes,omitempty"`
	AttributesBase64 []byte          `json:"attributes_base64,omitempty"`
	Rule             string          `json:"rule,omitempty"`
	Reason           string          `json:"reason,omitempty"`
	Approvers        []string        `json:"approvers,omitempty"`
	Status           string          `json:"status,omitempty"`
	CreatedAt        time.Time       `json:"created_at,omitzero"`
	ExpiresAt        time.Time       `json:"expires_at,omitzero"`
	DecidedAt        time.Time       `json:"decided_at,omitzero"`
	DecidedBy        string          `json:"decided_by,omitempty"`
	DecidedByKey     string          `json:"decided_by_key,omitempty"`
	DecidedByCreds   []string        `json:"decided_by_credentials,omitempty"`
	Note             string          `json:"note,omitempty"`
	GrantExpiresAt   time.Time       `json:"grant_expires_at,omitzero"`
	ConsumedAt       time.Time       `json:"consumed_at,omitzero"`
}

func toWireApproval(a store.Approval) wireApproval {
	w := wireApproval{
		ID: a.ID, Tenant: a.Tenant, Fingerprint: a.Fingerprint, AgentID: a.AgentID,
		SessionID: a.SessionID, OnBehalfOf: a.OnBehalfOf, Tool: a.Tool, Resource: a.Resource,
		Rule: a.Rule, Reason: a.Reason, Approvers: a.Approvers, Status: string(a.Status),
		CreatedAt: utc(a.CreatedAt), ExpiresAt: utc(a.ExpiresAt), DecidedAt: utc(a.DecidedAt),
		DecidedBy: a.DecidedBy, DecidedByKey: a.DecidedByKey, DecidedByCreds: a.DecidedByCredentials, Note: a.Note, GrantExpiresAt: utc(a.GrantExpiresAt), ConsumedAt: utc(a.ConsumedAt),
	}
	w.Attributes, w.AttributesBase64 = splitRaw(a.Attributes)
	return w
}

func (w *wireApproval) model() (store.Approval, error) {
	attrs, err := joinRaw(w.Attributes, w.AttributesBase64)
	if err != nil {
		return store.Approval{}, err
	}
	return store.Approval{
		ID: w.ID, Tenant: w.Tenant, Fingerprint: w.Fingerprint, AgentID: w.AgentID,
		SessionID: w.SessionID, OnBehalfOf: w.OnBehalfOf, Tool: w.Tool, Resource: w.Resource,
		Attributes: attrs, Rule: w.Rule, Reason: w.Reason, Approvers: w.Approvers,
		Status: store.ApprovalStatus(w.Status), CreatedAt: w.CreatedAt, ExpiresAt: w.ExpiresAt,
		DecidedAt: w.DecidedAt, DecidedBy: w.DecidedBy, DecidedByKey: w.DecidedByKey, DecidedByCredentials: w.DecidedByCreds, Note: w.Note,
		GrantExpiresAt: w.GrantExpiresAt, ConsumedAt: w.ConsumedAt,
	}, nil
}

type wireDecision struct {
	Status         string    `json:"status"`
	By             string    `json:"by,omitempty"`
	ByKey          string    `json:"by_key,omitempty"`
	ByCredentials  []string  `json:"by_credentials,omitempty"`
	Note           string    `json:"note,omitempty"`
	At             time.Time `json:"at,omitzero"`
	GrantExpiresAt time.Time `json:"grant_expires_at,omitzero"`
}

func toWireDecision(d store.ApprovalDecision) wireDecision {
	return wireDecision{Status: string(d.Status), By: d.By, ByKey: d.ByKey, ByCredentials: d.ByCredentials, Note: d.Note, At: utc(d.At), GrantExpiresAt: utc(d.GrantExpiresAt)}
}

func (w *wireDecision) model() store.ApprovalDecision {
	return store.ApprovalDecision{Status: store.ApprovalStatus(w.Status), By: w.By, ByKey: w.ByKey, ByCredentials: w.ByCredentials, Note: w.Note, At: w.At, GrantExpiresAt: w.GrantExpiresAt}
}

type wireApprovalFilter struct {
	Tenant    string    `json:"tenant,omitempty"`
	AgentID   string    `json:"agent_id,omitempty"`
	Status    string    `json:"status,omitempty"`
	PendingAt time.Time `json:"pending_at,omitzero"`
	Limit     int       `json:"limit,omitempty"`
}

type wirePolicy struct {
	Tenant    string    `json:"tenant"`
	Version   int64     `json:"version,omitempty"`
	Format    string    `json:"format,omitempty"`
	Body      []byte    `json:"body,omitempty"` // base64: a policy need not be JSON
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

func toWirePolicy(d store.PolicyDoc) wirePolicy {
	return wirePolicy{Tenant: d.Tenant, Version: d.Version, Format: d.Format, Body: d.Body, UpdatedAt: utc(d.UpdatedAt)}
}

func (w *wirePolicy) model() store.PolicyDoc {
	return store.PolicyDoc{Tenant: w.Tenant, Version: w.Version, Format: w.Format, Body: w.Body, UpdatedAt: w.UpdatedAt}
}

type wireRecord struct {
	Chain            string           `json:"chain"`
	Seq              uint64           `json:"seq"`
	ID               store.DecisionID `json:"id"`
	Time             time.Time        `json:"time,omitzero"`
	Tenant           string           `json:"tenant,omitempty"`
	AgentID          string           `json:"agent_id,omitempty"`
	OnBehalfOf       string           `json:"on_behalf_of,omitempty"`
	SessionID        string           `json:"session_id,omitempty"`
	Tool             string           `json:"tool,omitempty"`
	Resource         string           `json:"resource,omitempty"`
	Attributes       json.RawMessage  `json:"attributes,omitempty"`
	AttributesBase64 []byte           `json:"attributes_base64,omitempty"`
	CredentialID     string           `json:"credential_id,omitempty"`
	VouchedBy        string           `json:"vouched_by,omitempty"`
	RequestID        string           `json:"request_id,omitempty"`
	HopIDs           []string         `json:"hop_ids,omitempty"`
	Effect           store.Effect     `json:"effect"`
	Rule             string           `json:"rule,omitempty"`
	Reason           string           `json:"reason,omitempty"`
	ApprovalID       string           `json:"approval_id,omitempty"`
	Latency          time.Duration    `json:"latency_ns,omitempty"`
	ShadowEffect     string           `json:"shadow_effect,omitempty"`
	ShadowRule       string           `json:"shadow_rule,omitempty"`
	PrevHash         store.Hash       `json:"prev_hash"`
	Hash             store.Hash       `json:"hash"`
}

func toWireRecord(r store.AuditRecord) wireRecord {
	w := wireRecord{
		Chain: r.Chain, Seq: r.Seq, ID: r.ID, Time: utc(r.Time), Tenant: r.Tenant, AgentID: r.AgentID,
		OnBehalfOf: r.OnBehalfOf, SessionID: r.SessionID, Tool: r.Tool, Resource: r.Resource,
		CredentialID: r.CredentialID, VouchedBy: r.VouchedBy, RequestID: r.RequestID, HopIDs: r.HopIDs, Effect: r.Effect, Rule: r.Rule, Reason: r.Reason,
		ApprovalID: r.ApprovalID, Latency: r.Latency, ShadowEffect: r.ShadowEffect, ShadowRule: r.ShadowRule,
		PrevHash: r.PrevHash, Hash: r.Hash,
	}
	w.Attributes, w.AttributesBase64 = splitRaw(r.Attributes)
	return w
}

func (w *wireRecord) model() (store.AuditRecord, error) {
	attrs, err := joinRaw(w.Attributes, w.AttributesBase64)
	if err != nil {
		return store.AuditRecord{}, err
	}
	return store.AuditRecord{
		Chain: w.Chain, Seq: w.Seq, ID: w.ID, Time: w.Time, Tenant: w.Tenant, AgentID: w.AgentID,
		OnBehalfOf: w.OnBehalfOf, SessionID: w.SessionID, Tool: w.Tool, Resource: w.Resource,
		Attributes: attrs, CredentialID: w.CredentialID, VouchedBy: w.VouchedBy, RequestID: w.RequestID, HopIDs: w.HopIDs, Effect: w.Effect,
		Rule: w.Rule, Reason: w.Reason, ApprovalID: w.ApprovalID, Latency: w.Latency,
		ShadowEffect: w.ShadowEffect, ShadowRule: w.ShadowRule, PrevHash: w.PrevHash, Hash: w.Hash,
	}, nil
}

func toWireRecords(rs []store.AuditRecord) []wireRecord {
	out := make([]wireRecord, len(rs))
	for i, r := range rs {
		out[i] = toWireRecord(r)
	}
	return out
}

func modelRecords(ws []wireRecord) ([]store.AuditRecord, error) {
	if ws == nil {
		return nil, nil
	}
	out := make([]store.AuditRecord, len(ws))
	for i := range ws {
		r, err := ws[i].model()
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out[i] = r
	}
	return out, nil
}

type wireAuditQuery struct {
	Chain      string           `json:"chain,omitempty"`
	Tenant     string           `json:"tenant,omitempty"`
	AgentID    string           `json:"agent_id,omitempty"`
	Tool       string           `json:"tool,omitempty"`
	Effect     *store.Effect    `json:"effect,omitempty"`
	Since      time.Time        `json:"since,omitzero"`
	Until      time.Time        `json:"until,omitzero"`
	DecisionID store.DecisionID `json:"decision_id,omitzero"`
	AfterChain string           `json:"after_chain,omitempty"`
	AfterSeq   uint64           `json:"after_seq,omitempty"`
	Limit      int              `json:"limit,omitempty"`
}

func toWireAuditQuery(q store.AuditQuery) wireAuditQuery {
	return wireAuditQuery{
		Chain: q.Chain, Tenant: q.Tenant, AgentID: q.AgentID, Tool: q.Tool, Effect: q.Effect,
		Since: utc(q.Since), Until: utc(q.Until), DecisionID: q.DecisionID,
		AfterChain: q.AfterChain, AfterSeq: q.AfterSeq, Limit: q.Limit,
	}
}

func (w *wireAuditQuery) model() store.AuditQuery {
	return store.AuditQuery{
		Chain: w.Chain, Tenant: w.Tenant, AgentID: w.AgentID, Tool: w.Tool, Effect: w.Effect,
		Since: w.Since, Until: w.Until, DecisionID: w.DecisionID,
		AfterChain: w.AfterChain, AfterSeq: w.AfterSeq, Limit: w.Limit,
	}
}

type wireKey struct {
	ID         string     `json:"id"`
	Tenant     string     `json:"tenant"`
	AgentID    string     `json:"agent_id,omitempty"`
	Hash       store.Hash `json:"hash"`
	Name       string     `json:"name,omitempty"`
	Roles      []string   `json:"roles,omitempty"`
	AllowedIPs []string   `json:"allowed_ips,omitempty"`
	Caveats    []string   `json:"caveats,omitempty"`
	CreatedAt  time.Time  `json:"created_at,omitzero"`
	ExpiresAt  time.Time  `json:"expires_at,omitzero"`
}

func toWireKey(k store.Key) wireKey {
	return wireKey{
		ID: k.ID, Tenant: k.Tenant, AgentID: k.AgentID, Hash: store.Hash(k.Hash), Name: k.Name,
		Roles: k.Roles, AllowedIPs: k.AllowedIPs, Caveats: k.Caveats,
		CreatedAt: utc(k.CreatedAt), ExpiresAt: utc(k.ExpiresAt),
	}
}

func (w *wireKey) model() store.Key {
	return store.Key{
		ID: w.ID, Tenant: w.Tenant, AgentID: w.AgentID, Hash: [32]byte(w.Hash), Name: w.Name,
		Roles: w.Roles, AllowedIPs: w.AllowedIPs, Caveats: w.Caveats,
		CreatedAt: w.CreatedAt, ExpiresAt: w.ExpiresAt,
	}
}

type wireHop struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Parent    string    `json:"parent,omitempty"`
	TokenID   string    `json:"token_id,omitempty"`
	KeyID     string    `json:"key_id,omitempty"`
	AgentID   string    `json:"agent_id,omitempty"`
	Caveats   []string  `json:"caveats,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func toWireHop(h store.Hop) wireHop {
	return wireHop{
		ID: h.ID, Tenant: h.Tenant, Parent: h.Parent, TokenID: h.TokenID, KeyID: h.KeyID,
		AgentID: h.AgentID, Caveats: h.Caveats, CreatedAt: utc(h.CreatedAt), ExpiresAt: utc(h.ExpiresAt),
	}
}

func (w *wireHop) model() store.Hop {
	return store.Hop{
		ID: w.ID, Tenant: w.Tenant, Parent: w.Parent, TokenID: w.TokenID, KeyID: w.KeyID,
		AgentID: w.AgentID, Caveats: w.Caveats, CreatedAt: w.CreatedAt, ExpiresAt: w.ExpiresAt,
	}
}

type wireHopFilter struct {
	Tenant  string `json:"tenant"`
	TokenID string `json:"token_id,omitempty"`
	KeyID   string `json:"key_id,omitempty"`
}

// wirePolicyInput carries an agenttrust.PolicyInput. Attribute numbers
// arrive as json.Number, which the condition grammar compares exactly.
type wirePolicyInput struct {
	Tenant     string         `json:"tenant"`
	AgentID    string         `json:"agent_id"`
	Tool       string         `json:"tool"`
	Resource   string         `json:"resource,omitempty"`
	SessionID  string         `json:"session_id,omitempty"`
	OnBehalfOf string         `json:"on_behalf_of,omitempty"`
	RemoteAddr netip.Addr     `json:"remote_addr,omitzero"`
	Attributes map[string]any `json:"attributes,omitempty"`
	HopIDs     []string       `json:"hop_ids,omitempty"`
	Time       time.Time      `json:"time,omitzero"`
}

func toWirePolicyInput(in *agenttrust.PolicyInput) wirePolicyInput {
	return wirePolicyInput{
		Tenant: in.Tenant, AgentID: in.AgentID, Tool: in.Tool, Resource: in.Resource,
		SessionID: in.SessionID, OnBehalfOf: in.OnBehalfOf, RemoteAddr: in.RemoteAddr,
		Attributes: in.Attributes, HopIDs: in.HopIDs, Time: utc(in.Time),
	}
}

func (w *wirePolicyInput) model() *agenttrust.PolicyInput {
	return &agenttrust.PolicyInput{
		Tenant: w.Tenant, AgentID: w.AgentID, Tool: w.Tool, Resource: w.Resource,
		SessionID: w.SessionID, OnBehalfOf: w.OnBehalfOf, RemoteAddr: w.RemoteAddr,
		Attributes: w.Attributes, HopIDs: w.HopIDs, Time: w.Time,
	}
}

type wirePolicyResult struct {
	Effect    store.Effect `json:"effect"`
	Rule      string       `json:"rule,omitempty"`
	Reason    string       `json:"reason,omitempty"`
	Approvers []string     `json:"approvers,omitempty"`
	// ApprovalTimeout is the rule's approval_timeout: without it the
	// asking client keeps the approval pending for its own TTL, and an
	// approval granted after the rule meant it to lapse lets the request
	// through.
	ApprovalTimeout time.Duration `json:"approval_timeout_ns,omitempty"`
}

// utc drops the location and monotonic reading of t, which the wire does
// not carry; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// splitRaw chooses how JSON bytes travel: raw when they would come back
// byte for byte, base64 otherwise. Empty bytes travel as neither.
func splitRaw(b []byte) (json.RawMessage, []byte) {
	switch {
	case len(b) == 0:
		return nil, nil
	case rawJSON(b):
		return json.RawMessage(b), nil
	}
	return nil, b
}

// joinRaw is the inverse of splitRaw; both set is malformed.
func joinRaw(raw json.RawMessage, b64 []byte) ([]byte, error) {
	switch {
	case len(raw) > 0 && len(b64) > 0:
		return nil, fmt.Errorf("%w: both attributes and attributes_base64", errStrict)
	case len(raw) > 0:
		return []byte(raw), nil
	case len(b64) > 0:
		return b64, nil
	}
	return nil, nil
}
