package agenttrust

import (
	"context"
	"crypto/sha256"
	"encoding/base64"

	"github.com/agenttrust/agenttrust/internal/mac"
	"github.com/agenttrust/agenttrust/store"
)

// TokenRootKey exposes the root key derivation for interoperability tests.
func TokenRootKey(c *Client, masterKeyID, tokenID string) [sha256.Size]byte {
	return c.keyring.byID[masterKeyID].rootKey(tokenID)
}

// ForceHopForTest adds a hop caveat without Attenuate's depth check, as an
// attacker's own tool could: with its id bound to the token's signature,
// which the holder knows.
func ForceHopForTest(tok string) string {
	raw, err := b64.DecodeString(tok[len(TokenPrefix):])
	if err != nil {
		panic(err)
	}
	var m mac.Macaroon
	if err := mac.Decode(raw, &m); err != nil {
		panic(err)
	}
	sig := m.Signature()
	hop := appendHopID([]byte(hopCaveatPrefix), &sig, &[hopNonceLen]byte{0, 2, 3}, nil)
	out, err := mac.Attenuate(nil, raw, nil, hop)
	if err != nil {
		panic(err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(out)
}

// CurrentMasterKeyID names the master key that mints.
func CurrentMasterKeyID(c *Client) string { return c.keyring.current.id }

// AuditFlusherParked reports whether the audit flusher has found the
// queue empty and parked until the next check wakes it.
func AuditFlusherParked(c *Client) bool {
	c.audit.mu.Lock()
	defer c.audit.mu.Unlock()
	return c.audit.idle
}

// AuditCanonical and AuditMAC give the audit golden vectors the chain's
// encoding and MAC.
func AuditCanonical(r *AuditRecord) []byte { return appendCanonical(nil, r) }

func AuditMAC(key AuditKey, r *AuditRecord) store.Hash {
	var h store.Hash
	hashRecord(nil, key.chainMAC(r.Chain), r, &h)
	return h
}

// AttenuateUncheckedForTest adds caveats without Attenuate's size check,
// as an attacker's own tool could.
func AttenuateUncheckedForTest(tok string, caveats ...string) string {
	raw, err := b64.DecodeString(tok[len(TokenPrefix):])
	if err != nil {
		panic(err)
	}
	bs := make([][]byte, len(caveats))
	for i, c := range caveats {
		bs[i] = []byte(c)
	}
	out, err := mac.Attenuate(nil, raw, nil, bs...)
	if err != nil {
		panic(err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(out)
}

// TokenCacheUse reports the entries and bytes the token cache holds.
func TokenCacheUse(c *Client) (int, int64) { return c.tokens.Len(), c.tokens.Bytes() }

// ApprovalPoll is how often WaitApproval rereads the store.
const ApprovalPoll = approvalPoll

// Delegations lists the recorded hops under a token id or key id.
func (c *Client) Delegations(ctx context.Context, tokenID, keyID string) ([]Hop, error) {
	return c.store.Hops(ctx, store.HopFilter{Tenant: c.tenant, TokenID: tokenID, KeyID: keyID})
}

// SetPolicy makes p live, as WithPolicy does at New.
func (c *Client) SetPolicy(p *Policy) error { return c.setPolicy(p) }

// MemorySink is the client's default sink, for tests to read.
type MemorySink = memorySink

// NewMemorySink returns the client's default sink, of size records.
func NewMemorySink(size int) *MemorySink { return newMemorySink(size) }

// Records returns the records held, oldest first.
func (m *memorySink) Records() []AuditRecord { return m.records() }

// Total returns how many records were ever written to the sink.
func (m *memorySink) Total() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// Limits the tests probe.
const (
	MaxAttributes      = maxAttributes
	MaxDelegationDepth = maxDelegationDepth
	RevocationSkew     = revocationSkew
	DefaultTokenTTL    = defaultTokenTTL
)

// MaxOpenApprovalsForTest is how many pending approvals one agent may hold
// open.
const MaxOpenApprovalsForTest = maxOpenApprovals

// MaxApprovalAttrBytesForTest bounds the attributes an approval keeps.
const MaxApprovalAttrBytesForTest = maxApprovalAttrBytes
