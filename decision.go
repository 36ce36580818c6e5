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
	// Staleness is how old the view of revocations and suspensions was
	// when the decision was made; zero when it was read from the store
	// during the check.
	Staleness time.Duration
}

// Allowed reports whether the action may proceed.
func (d Decision) Allowed() bool { return d.Effect == Allow }

// idSource makes time-ordered DecisionIDs. A single atomic word holds the
// last (millisecond, sequence) pair so IDs from one client strictly
// increase; the low 62 bits are a random node value fixed at construction,
// so clients sharing a store do not collide.
type idSource struct {
	last atomic.Uint64 // ms<<12 | seq
	node [8]byte
}

func newIDSource(r io.Reader) (*idSource, error) {
	s := &idSource{}
	if _, err := io.ReadFull(r, s.node[:]); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *idSource) next(now time.Time) DecisionID {
	ms := uint64(now.UnixMilli()) & (1<<48 - 1)
	var v uint64
	for {
		old := s.last.Load()
		v = ms << 12
		if v <= old {
			v = old + 1 // same or earlier millisecond: continue the sequence
		}
		if s.last.CompareAndSwap(old, v) {
			break
		}
	}
	var id DecisionID
	ms, seq := v>>12, v&0xfff
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	binary.BigEndian.PutUint16(id[6:8], 0x7000|uint16(seq))
	copy(id[8:], s.node[:])
	id[8] = 0x80 | id[8]&0x3f
	return id
}
