package agenttrust

import (
	"encoding/binary"
	"io"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// Effect is the outcome of a decision: Deny (the zero value), Allow or
// NeedsApproval. It marshals as "deny", "allow" and "needs_approval".
type Effect = store.Effect

// The effects.
const (
	Deny          = store.Deny
	Allow         = store.Allow
	NeedsApproval = store.NeedsApproval
)

// DecisionID identifies a decision: 16 bytes, time-ordered, formatted as a
// UUID (version 7 layout). Making one allocates nothing.
type DecisionID = store.DecisionID

// Request is one action an agent wants to take. AgentID and Tool are
// required unless a credential names the agent. Check reads Attributes only
// during the call and keeps nothing of them but the audit record's redacted
// copy.
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
}

// Decision is the answer to a Request. The zero Decision denies.
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

// idSource makes time-ordered DecisionIDs: 48 bits of Unix milliseconds,
// the version nibble and 12 random bits fixed per client, then the variant
// and a 62-bit counter that starts at a random value. One atomic add per
// ID: IDs from one client are unique and ordered by (millisecond, issue
// order); clients sharing a store differ in their random parts.
type idSource struct {
	seq  atomic.Uint64
	node uint16 // 12 random bits
	// A cache line of its own: every check adds to seq, and a neighbour
	// written by the audit flusher would bounce the line between cores.
	_ [64 - 8 - 2]byte
}

func newIDSource(r io.Reader) (*idSource, error) {
	var b [10]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, err
	}
	s := &idSource{node: binary.BigEndian.Uint16(b[0:2]) & 0x0fff}
	s.seq.Store(binary.BigEndian.Uint64(b[2:10]) >> 3) // leave room to count
	return s, nil
}

func (s *idSource) next(now time.Time) DecisionID {
	ms := uint64(now.UnixMilli())
	n := s.seq.Add(1)
	var id DecisionID
	binary.BigEndian.PutUint64(id[0:8], ms<<16|0x7000|uint64(s.node))
	binary.BigEndian.PutUint64(id[8:16], 0x8000000000000000|n&0x3fffffffffffffff)
	return id
}
