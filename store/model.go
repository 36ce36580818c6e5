package store

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Effect is the outcome of an authorization decision. The zero value is
// Deny, so a Decision or record that was never filled in denies.
type Effect uint8

// The three effects. Their numeric values are part of the storage format and
// never change; they are not an order of precedence.
const (
	Deny Effect = iota
	Allow
	NeedsApproval
)

// String returns "deny", "allow" or "needs_approval".
func (e Effect) String() string {
	switch e {
	case Deny:
		return "deny"
	case Allow:
		return "allow"
	case NeedsApproval:
		return "needs_approval"
	}
	return "invalid"
}

// ParseEffect is the inverse of String.
func ParseEffect(s string) (Effect, error) {
	switch s {
	case "deny":
		return Deny, nil
	case "allow":
		return Allow, nil
	case "needs_approval":
		return NeedsApproval, nil
	}
	return Deny, fmt.Errorf("agenttrust: unknown effect %q (want allow, deny or needs_approval)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (e Effect) MarshalText() ([]byte, error) {
	if e > NeedsApproval {
		return nil, fmt.Errorf("agenttrust: invalid effect %d", uint8(e))
	}
	return []byte(e.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *Effect) UnmarshalText(b []byte) error {
	v, err := ParseEffect(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// DecisionID identifies one decision. It has the layout of a version 7 UUID:
// 48 bits of Unix milliseconds, then a per-issuer sequence and random bits,
// so IDs sort by time and making one allocates nothing.
type DecisionID [16]byte

// IsZero reports whether id is the zero ID.
func (id DecisionID) IsZero() bool { return id == DecisionID{} }

// Time returns the millisecond timestamp embedded in id.
func (id DecisionID) Time() time.Time {
	ms := int64(id[0])<<40 | int64(id[1])<<32 | int64(id[2])<<24 | int64(id[3])<<16 | int64(id[4])<<8 | int64(id[5])
	return time.UnixMilli(ms).UTC()
}

// String formats id as a canonical UUID (8-4-4-4-12 lowercase hex).
func (id DecisionID) String() string {
	var b [36]byte
	id.encode(&b)
	return string(b[:])
}

func (id DecisionID) encode(b *[36]byte) {
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], id[10:16])
}

// MarshalText implements encoding.TextMarshaler.
func (id DecisionID) MarshalText() ([]byte, error) {
	var b [36]byte
	id.encode(&b)
	return b[:], nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *DecisionID) UnmarshalText(b []byte) error {
	v, err := ParseDecisionID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseDecisionID parses the form produced by DecisionID.String.
func ParseDecisionID(s string) (DecisionID, error) {
	var id DecisionID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, fmt.Errorf("agenttrust: malformed decision id %q", s)
	}
	compact := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(id[:], []byte(compact)); err != nil {
		return DecisionID{}, fmt.Errorf("agenttrust: malformed decision id %q", s)
	}
	return id, nil
}

// BlockKind says why a subject is blocked.
type BlockKind uint8

const (
	// Revoked is permanent: a revocation is never lifted, only pruned once
	// nothing it can affect is still alive.
	Revoked BlockKind = iota + 1
	// Suspended is the kill switch for an agent or session: it takes effect
	// on the next check and can be lifted with Resume.
	Suspended
)

// String returns "revoked" or "suspended".
func (k BlockKind) String() string {
	switch k {
	case Revoked:
		return "revoked"
	case Suspended:
		return "suspended"
	}
	return "invalid"
}

// MarshalText implements encoding.TextMarshaler.
func (k BlockKind) MarshalText() ([]byte, error) {
	if k != Revoked && k != Suspended {
		return nil, fmt.Errorf("agenttrust: invalid block kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *BlockKind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "revoked":
		*k = Revoked
	case "suspended":
		*k = Suspended
	default:
		return fmt.Errorf("agenttrust: unknown block kind %q", b)
	}
	return nil
}

// Block is a revocation or a suspension of one id: an agent, a session, an
// API key, a token or a delegation hop. Ids share one namespace per tenant:
// blocking "x" blocks any agent, session or credential named "x" in that
// tenant, which can only deny more, never less.
type Block struct {
	Tenant    string
	ID        string
	Kind      BlockKind
	Reason    string
	CreatedAt time.Time
	// ExpiresAt is when the block stops mattering and may be pruned: the
	// expiry of the longest-lived credential it can affect. The zero time
	// means never (agents, sessions, suspensions).
	ExpiresAt time.Time
}

// ApprovalStatus is the state of an Approval.
type ApprovalStatus string

// Approval states. An approval moves Pending -> Approved -> Consumed, or
// Pending -> Denied; Approved and Pending ones expire with their deadlines.
const (
	ApprovalPending  ApprovalStatus = "pending"
	ApprovalApproved ApprovalStatus = "approved"
	ApprovalDenied   ApprovalStatus = "denied"
	ApprovalConsumed ApprovalStatus = "consumed"
)

// Approval is a request held for a human or another principal to decide.
// It is bound to the fingerprint of exactly one request.
type Approval struct {
	ID          string
	Tenant      string
	Fingerprint string // hex SHA-256 of the canonical request
	AgentID     string
	SessionID   string
	OnBehalfOf  string
	Tool        string
	Resource    string
	Attributes  json.RawMessage // canonical JSON object, redacted
	Rule        string
	Reason      string
	Approvers   []string // who may decide; empty means anyone but the agent
	Status      ApprovalStatus
	CreatedAt   time.Time
	// ExpiresAt: a pending approval not decided by then lapses. Zero means
	// already lapsed (fail closed), unlike Block.ExpiresAt.
	ExpiresAt time.Time
	DecidedAt time.Time
	DecidedBy string
	// DecidedByKey is the API key at the root of the credential the
	// approval was decided with, "" when none is known (a library
	// caller's decision). An approved approval allows nothing once that
	// key is revoked, suspended or expired.
	DecidedByKey string
	// DecidedByCredentials are the ids of the credential derived from
	// DecidedByKey that the approval was decided with, oldest first: the
	// token or JWT id, then its delegation hops; none when the key itself
	// decided. An approved approval allows nothing once any of them is
	// revoked.
	DecidedByCredentials []string
	Note                 string
	// GrantExpiresAt bounds the use of an approved approval.
	GrantExpiresAt time.Time
	ConsumedAt     time.Time
}

// ApprovalDecision resolves a pending approval.
type ApprovalDecision struct {
	Status         ApprovalStatus // ApprovalApproved or ApprovalDenied
	By             string
	ByKey          string   // becomes Approval.DecidedByKey
	ByCredentials  []string // becomes Approval.DecidedByCredentials
	Note           string
	At             time.Time
	GrantExpiresAt time.Time // for ApprovalApproved
}

// ApprovalFilter selects approvals; zero fields match everything.
type ApprovalFilter struct {
	Tenant  string
	AgentID string
	Status  ApprovalStatus
	// PendingAt, when not zero, keeps only the approvals still awaiting
	// a decision at that time: pending, with ExpiresAt after it. Lapsed
	// approvals stay pending in the store for ever, and a list that
	// counted them towards Limit would, once an agent had let enough
	// lapse, hold no approval a person could still decide.
	PendingAt time.Time
	Limit     int // 0 means no limit
}

// PolicyDoc is a stored policy document, versioned so that a replacement
// can be made conditional on the version it replaces.
type PolicyDoc struct {
	Tenant    string
	Version   int64 // 1 for the first document
	Format    string
	Body      []byte
	UpdatedAt time.Time
}

// AuditRecord is the record of one decision. Records form a keyed hash
// chain: each Hash is a MAC, under a key the store never holds, of the
// record's fields and PrevHash, so an edit, a forged record, a drop or a
// reorder breaks the chain. A record never holds a credential, only its id.
// VouchedBy is the key id of the admin credential that vouched for a check
// made without a credential of the agent's own, and empty otherwise.
// RequestID is the id of the request that asked for the check (a
// server's X-Request-Id), and empty when the caller gave none.
type AuditRecord struct {
	// Chain names the writer's chain: each client (node) writes its own, so
	// many nodes share a store without serialising on one sequence.
	Chain        string          `json:"chain"`
	Seq          uint64          `json:"seq"`
	ID           DecisionID      `json:"id"`
	Time         time.Time       `json:"time"`
	Tenant       string          `json:"tenant,omitempty"`
	AgentID      string          `json:"agent_id,omitempty"`
	OnBehalfOf   string          `json:"on_behalf_of,omitempty"`
	SessionID    string          `json:"session_id,omitempty"`
	Tool         string          `json:"tool,omitempty"`
	Resource     string          `json:"resource,omitempty"`
	Attributes   json.RawMessage `json:"attributes,omitempty"`
	CredentialID string          `json:"credential_id,omitempty"`
	VouchedBy    string          `json:"vouched_by,omitempty"`
	RequestID    string          `json:"request_id,omitempty"`
	HopIDs       []string        `json:"hop_ids,omitempty"`
	Effect       Effect          `json:"effect"`
	Rule         string          `json:"rule,omitempty"`
	Reason       string          `json:"reason,omitempty"`
	ApprovalID   string          `json:"approval_id,omitempty"`
	Latency      time.Duration   `json:"latency_ns"`
	// ShadowEffect and ShadowRule are what a shadow policy (one evaluated
	// beside the live one, never enforced) decided instead, when it
	// disagreed with the live policy: "allow", "deny" or
	// "needs_approval" and its rule, or "error" when it failed. Both are
	// empty when there is no shadow policy or it agreed.
	ShadowEffect string `json:"shadow_effect,omitempty"`
	ShadowRule   string `json:"shadow_rule,omitempty"`
	PrevHash     Hash   `json:"prev_hash"`
	Hash         Hash   `json:"hash"`
}

// Hash is an HMAC-SHA256 in the audit chain. It marshals as 64 lowercase
// hex characters; the zero Hash is the PrevHash of a chain's first record.
type Hash [32]byte

// IsZero reports whether h is the zero hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// String returns h in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, 64)
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHash parses 64 hex characters.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 64 {
		return h, fmt.Errorf("agenttrust: malformed hash %q", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return Hash{}, fmt.Errorf("agenttrust: malformed hash %q", s)
	}
	return h, nil
}

// AuditQuery selects audit records; zero fields match everything. Results
// are ordered by (Chain, Seq), so each chain's records come in chain order.
type AuditQuery struct {
	Chain      string
	Tenant     string
	AgentID    string
	Tool       string
	Effect     *Effect
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	DecisionID DecisionID
	// Paging: only records after (AfterChain, AfterSeq) in (Chain, Seq)
	// order. With Chain set, AfterChain may be left empty.
	AfterChain string
	AfterSeq   uint64
	Limit      int // 0 means no limit
}

// The roles a key can carry on the server's API.
const (
	RoleAdmin    = "admin"
	RoleAgent    = "agent"
	RoleApprover = "approver"
	// RoleMetrics may read the server's metrics and nothing else. No key
	// carries it: the server gives it to the scrape token it is
	// configured with, which needs no store to be checked and is no
	// credential anywhere else.
	RoleMetrics = "metrics"
)

// Key is a stored API key. The secret itself is never stored: only its
// SHA-256, by which a presented key is looked up.
type Key struct {
	ID      string // public id, "key_..."
	Tenant  string
	AgentID string
	Hash    [32]byte // SHA-256 of the secret
	Name    string
	// Roles are the key's rights on the server's API (admin, agent,
	// approver); the library itself does not read them.
	Roles      []string
	AllowedIPs []string // CIDR prefixes; empty allows any address
	Caveats    []string // canonical caveat text every use must satisfy
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
}

// Hop is one recorded step of server-side delegation: a token narrowed and
// handed on. Hops form a tree under the token (and key) they descend from.
type Hop struct {
	ID        string // "hop_..."
	Tenant    string
	Parent    string // the hop this one narrows, or "" for a first hop
	TokenID   string // the token at the root of the tree
	KeyID     string // the API key the token was exchanged for
	AgentID   string
	Caveats   []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// HopFilter selects hops; zero fields match everything but Tenant, which
// is required.
type HopFilter struct {
	Tenant  string
	TokenID string
	KeyID   string
}

// Sentinel errors every backend returns, wrapped with detail.
var (
	ErrNotFound    = errors.New("agenttrust/store: not found")
	ErrConflict    = errors.New("agenttrust/store: conflict")
	ErrClosed      = errors.New("agenttrust/store: store is closed")
	ErrUnavailable = errors.New("agenttrust/store: store unavailable")
	// ErrInvalid: an argument breaks the contract (an empty id, a decision
	// status other than approved or denied).
	ErrInvalid = errors.New("agenttrust/store: invalid argument")
	// ErrCorrupt: a stored row is in a form the store never writes (an
	// audit record's effect out of range, a column of another type), so
	// it was written behind the store's back. Verification reports such
	// a record as a break of its chain.
	ErrCorrupt = errors.New("agenttrust/store: stored data edited behind the store's back")
)
