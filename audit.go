package agenttrust

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust/internal/entropy"
	"github.com/agenttrust/agenttrust/store"
)

// AuditSink receives audit records in chain order, in batches. Write must
// not retain recs, nor the Attributes bytes or HopIDs slices of its
// records, after it returns: like io.Writer, it copies what it keeps.
// An error makes the client retry the same batch on that sink, so a sink
// must tolerate seeing a batch again after a failed Write.
//
// A sink that persists chains (audit.StoreSink, remote.AuditSink) also has a
// method AuditHead(ctx, chain) (AuditRecord, error) returning the newest
// record of chain, or an error matching store.ErrNotFound when there is
// none: New reads it so a client continues its chain instead of starting
// over. A client calls Write from its flusher, but a Write that hangs past
// AuditConfig.WriteTimeout is retried while it may still run, and a sink
// may be shared by several clients: a sink must be safe for concurrent
// use.
type AuditSink interface {
	Write(ctx context.Context, recs []AuditRecord) error
}

// ChainError reports where an audit chain breaks. A plain value; the zero
// ChainError says nothing about where a chain breaks.
type ChainError struct {
	Index int    // position in the slice given to VerifyChain
	Seq   uint64 // the record's sequence number
	Msg   string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("agenttrust: audit chain broken at record %d (seq %d): %s", e.Index, e.Seq, e.Msg)
}

// Is makes errors.Is(err, ErrChainBroken) hold.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }

// AuditKey keys the audit chain: each record's Hash is an HMAC-SHA256 of
// its canonical encoding under a key derived from the AuditKey and the
// chain's name, so records can be checked, and made, only by whoever holds
// the key. Keep it where the audit store's writers cannot read it (the
// server keeps it in its secrets file). The zero AuditKey holds no key:
// VerifyChain refuses it, and a key holding one never equals
// AuditKey{}. An AuditKey redacts itself when printed, logged or
// marshalled; it is safe for concurrent use.
//
// The derivation, for other implementations (testdata/audit_vectors.json
// has examples): root = HMAC-SHA256(secret, "agenttrust/audit/v2"); the
// key of a chain = HMAC-SHA256(root, "chain" 0x00 chain name); a
// record's Hash = HMAC-SHA256(chain key, canonical encoding).
type AuditKey struct {
	root *[32]byte
}

// minAuditSecret is the least secret NewAuditKey accepts.
const minAuditSecret = 32

// NewAuditKey derives an audit key from secret, at least 32 bytes of high
// entropy that never enter the store; all zero bytes are refused. The same secret always gives the
// same key, so every process holding it verifies every chain made with it.
func NewAuditKey(secret []byte) (AuditKey, error) {
	if len(secret) < minAuditSecret || entropy.Zero(secret) {
		// Zero bytes are no secret: a buffer cleared before use or
		// never filled, under which anyone recomputes the chain.
		return AuditKey{}, fmt.Errorf("%w: audit key secret must be at least %d bytes, not all zero", ErrInvalidConfig, minAuditSecret)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("agenttrust/audit/v2"))
	var k [32]byte
	m.Sum(k[:0])
	return AuditKey{root: &k}, nil
}

// String implements fmt.Stringer without the key material.
func (k AuditKey) String() string {
	if k.root == nil {
		return "AuditKey(none)"
	}
	return "AuditKey(redacted)"
}

// GoString implements fmt.GoStringer without the key material.
func (k AuditKey) GoString() string { return k.String() }

// LogValue implements slog.LogValuer without the key material.
func (k AuditKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON keeps the key material out of JSON.
func (k AuditKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// derive returns the subkey for a purpose and a name, such as the key of
// one chain: records of one chain never verify as records of another.
func (k AuditKey) derive(purpose, name string) [32]byte {
	m := hmac.New(sha256.New, k.root[:])
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(name))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// MAC returns the HMAC-SHA256 of data under the subkey of k for
// purpose, HMAC-SHA256(root, purpose 0x00) in the terms of the
// derivation above: a MAC made for one purpose verifies for no other,
// and never as a record's Hash. It guards what protects the audit trail
// beside its records, such as the checkpoint file of package audit
// (purpose "checkpoints"). The zero AuditKey, an empty purpose, one
// holding a NUL byte and "chain", which keys the records, are refused
// with an error matching ErrInvalidConfig.
func (k AuditKey) MAC(purpose string, data []byte) (store.Hash, error) {
	if k.root == nil || purpose == "" || purpose == "chain" || strings.IndexByte(purpose, 0) >= 0 {
		return store.Hash{}, fmt.Errorf("%w: audit key MAC needs a key and a purpose other than %q, without NUL", ErrInvalidConfig, "chain")
	}
	sub := k.derive(purpose, "")
	var h store.Hash
	sumMAC(hmac.New(sha256.New, sub[:]), data, &h)
	return h, nil
}

// chainMAC returns a fresh HMAC-SHA256 under the key of chain.
func (k AuditKey) chainMAC(chain string) hash.Hash {
	ck := k.derive("chain", chain)
	return hmac.New(sha256.New, ck[:])
}

// VerifyChain checks that records form an unbroken chain made under key:
// each Hash is the MAC of the record's contents under the chain's key,
// each PrevHash is the Hash before it and sequence numbers increase by
// one, and each Time is one the chain can encode (within the years 1678
// to 2262) in whole microseconds, as records are made. So it detects any
// edit, any record forged or recomputed without the key, any dropped
// record inside the slice and any reordering. The slice may start
// anywhere in the chain. It cannot see records cut from the end: compare
// the last record with a checkpoint kept out of the store's reach
// (audit.Checkpoints) for that.
func VerifyChain(records []AuditRecord, key AuditKey) error {
	if key.root == nil {
		return fmt.Errorf("%w: VerifyChain needs the audit key the chain was made with", ErrInvalidConfig)
	}
	var buf []byte
	var mac hash.Hash
	got := new(store.Hash) // one for the whole run: the MAC's Sum keeps it on the heap
	chain := ""
	for i := range records {
		r := &records[i]
		if mac == nil || r.Chain != chain {
			if mac != nil {
				return &ChainError{Index: i, Seq: r.Seq, Msg: fmt.Sprintf("record of chain %q amid chain %q", r.Chain, chain)}
			}
			chain, mac = r.Chain, key.chainMAC(r.Chain)
		}
		if msg := chainTimeError(r.Time); msg != "" {
			return &ChainError{Index: i, Seq: r.Seq, Msg: msg}
		}
		buf = hashRecord(buf[:0], mac, r, got)
		if !hmac.Equal(got[:], r.Hash[:]) {
			return &ChainError{Index: i, Seq: r.Seq, Msg: "hash does not match contents under the audit key (record edited, forged or made with another key)"}
		}
		if i == 0 {
			if r.Seq == 0 {
				return &ChainError{Index: i, Seq: r.Seq, Msg: "sequence number 0"}
			}
			if r.Seq == 1 && !r.PrevHash.IsZero() {
				return &ChainError{Index: i, Seq: r.Seq, Msg: "first record has a previous hash"}
			}
			continue
		}
		prev := &records[i-1]
		if r.Seq != prev.Seq+1 {
			return &ChainError{Index: i, Seq: r.Seq, Msg: fmt.Sprintf("sequence jumps from %d (record dropped or reordered)", prev.Seq)}
		}
		if r.PrevHash != prev.Hash {
			return &ChainError{Index: i, Seq: r.Seq, Msg: "previous hash does not match (record dropped or reordered)"}
		}
	}
	return nil
}

// chainTimeError says why t cannot be the time of a record, "" when it
// can. The canonical encoding holds a time as its UnixNano, which wraps
// outside the years 1678 to 2262: t and t ± 2^64 ns encode alike, so a
// time moved by that much keeps its hash and only this check sees it.
// Every record is made with a whole microsecond (check.go, operator.go
// and the overflow note keep UnixMicro * 1000), which a shift by 2^64 ns
// is not either.
func chainTimeError(t time.Time) string {
	switch ns := t.UnixNano(); {
	case !time.Unix(0, ns).Equal(t):
		return "time outside the years 1678 to 2262 that the chain encodes (record edited)"
	case ns%1000 != 0:
		return "time not a whole microsecond, as records keep it (record edited)"
	}
	return ""
}

// hashRecord sets *out to the MAC of r's canonical encoding under mac
// (the chain's HMAC, reset here). The encoding is built in buf, which it
// returns for reuse.
func hashRecord(buf []byte, mac hash.Hash, r *AuditRecord, out *store.Hash) []byte {
	b := appendCanonical(buf, r)
	sumMAC(mac, b, out)
	return b
}

// sumMAC sets *out to the HMAC of b under mac, which it resets first. It
// writes in place: no allocation once out is on the heap.
func sumMAC(mac hash.Hash, b []byte, out *store.Hash) {
	mac.Reset()
	mac.Write(b)
	mac.Sum(out[:0])
}

func putS(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }

// canonicalVersion is the first byte of every canonical encoding. Version
// 1 (unkeyed SHA-256, no VouchedBy) is not accepted: anyone can make it.
const canonicalVersion = 2

// Optional fields of the canonical encoding: each follows PrevHash as its
// tag byte and its length-prefixed value, only when the value is not
// empty, in increasing tag order. A record without them encodes exactly
// as before they existed, so every chain written earlier verifies as it
// did.
const (
	tagRequestID    = 1 // AuditRecord.RequestID
	tagShadowEffect = 2 // AuditRecord.ShadowEffect
	tagShadowRule   = 3 // AuditRecord.ShadowRule
)

// appendShadow appends the optional shadow fields that are set, after
// those appendCanonicalFields writes.
func appendShadow(b []byte, effect, rule string) []byte {
	if effect != "" {
		b = putS(append(b, tagShadowEffect), effect)
	}
	if rule != "" {
		b = putS(append(b, tagShadowRule), rule)
	}
	return b
}

// appendCanonical appends r's canonical encoding: a version byte, then
// every field but Hash, each length-prefixed, in fixed order, then the
// optional fields that are set. It is what the chain MACs, and it decodes
// back with decodeCanonical.
func appendCanonical(b []byte, r *AuditRecord) []byte {
	b = appendCanonicalFields(b, r.Chain, r.Seq, r.ID, r.Time.UnixNano(), r.Tenant, r.AgentID, r.OnBehalfOf,
		r.SessionID, r.Tool, r.Resource, r.Attributes, r.CredentialID, r.VouchedBy, r.HopIDs, r.Effect, r.Rule, r.Reason,
		r.ApprovalID, r.Latency, r.PrevHash, r.RequestID)
	return appendShadow(b, r.ShadowEffect, r.ShadowRule)
}

// appendCanonicalFields is appendCanonical over the fields themselves, so
// the flusher can encode a record it has not built as a struct.
func appendCanonicalFields(b []byte, chain string, seq uint64, id DecisionID, unixNano int64, tenant, agent, obo,
	session, tool, resource string, attrs []byte, cred, vouched string, hops []string, effect Effect, rule, reason,
	approval string, latency time.Duration, prev store.Hash, reqID string) []byte {
	b = append(b, canonicalVersion)
	b = putS(b, chain)
	b = binary.AppendUvarint(b, seq)
	b = append(b, id[:]...)
	b = binary.AppendVarint(b, unixNano)
	b = putS(b, tenant)
	b = putS(b, agent)
	b = putS(b, obo)
	b = putS(b, session)
	b = putS(b, tool)
	b = putS(b, resource)
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	b = append(b, attrs...)
	b = putS(b, cred)
	b = putS(b, vouched)
	b = binary.AppendUvarint(b, uint64(len(hops)))
	for _, h := range hops {
		b = putS(b, h)
	}
	b = append(b, byte(effect))
	b = putS(b, rule)
	b = putS(b, reason)
	b = putS(b, approval)
	b = binary.AppendVarint(b, int64(latency))
	b = append(b, prev[:]...)
	if reqID != "" {
		b = putS(append(b, tagRequestID), reqID)
	}
	return b
}

// decodeCanonical is the inverse of appendCanonical.
func decodeCanonical(b []byte) (AuditRecord, error) {
	var r AuditRecord
	bad := errors.New("agenttrust: malformed canonical audit record")
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			panic(bad)
		}
		b = b[n:]
		return v
	}
	take := func(n uint64) []byte {
		if n > uint64(len(b)) {
			panic(bad)
		}
		out := b[:n]
		b = b[n:]
		return out
	}
	str := func() string { return string(take(uv())) }
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = bad
			}
		}()
		if take(1)[0] != canonicalVersion {
			panic(bad)
		}
		r.Chain = str()
		r.Seq = uv()
		copy(r.ID[:], take(16))
		t, n := binary.Varint(b)
		if n <= 0 {
			panic(bad)
		}
		b = b[n:]
		r.Time = time.Unix(0, t).UTC()
		r.Tenant, r.AgentID, r.OnBehalfOf, r.SessionID, r.Tool, r.Resource = str(), str(), str(), str(), str(), str()
		if a := take(uv()); len(a) > 0 {
			r.Attributes = append(json.RawMessage(nil), a...)
		}
		r.CredentialID, r.VouchedBy = str(), str()
		for range uv() {
			r.HopIDs = append(r.HopIDs, str())
		}
		r.Effect = Effect(take(1)[0])
		r.Rule, r.Reason, r.ApprovalID = str(), str(), str()
		l, n := binary.Varint(b)
		if n <= 0 {
			panic(bad)
		}
		b = b[n:]
		r.Latency = time.Duration(l)
		copy(r.PrevHash[:], take(32))
		// The optional fields, each at most once, in increasing tag
		// order; an empty one is left out.
		for _, f := range [...]struct {
			tag byte
			dst *string
		}{{tagRequestID, &r.RequestID}, {tagShadowEffect, &r.ShadowEffect}, {tagShadowRule, &r.ShadowRule}} {
			if len(b) > 0 && b[0] == f.tag {
				b = b[1:]
				if *f.dst = str(); *f.dst == "" {
					panic(bad)
				}
			}
		}
		if len(b) != 0 {
			panic(bad)
		}
	}()
	return r, err
}

// memorySink is the client's default sink: the most recent records in a
// ring of fixed size, kept in their compact canonical encoding (no
// pointers for the garbage collector to scan), so writing allocates
// nothing once the ring is warm. Safe for concurrent use.
type memorySink struct {
	mu    sync.Mutex
	slots []ringSlot
	next  int
	full  bool
	total uint64
}

type ringSlot struct {
	enc  []byte // canonical encoding, reused
	hash store.Hash
}

// newMemorySink returns a ring holding up to size records (size >= 1).
func newMemorySink(size int) *memorySink {
	return &memorySink{slots: make([]ringSlot, max(size, 1))}
}

// Write implements AuditSink.
func (m *memorySink) Write(_ context.Context, recs []AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range recs {
		sl := &m.slots[m.next]
		sl.enc = appendCanonical(sl.enc[:0], &recs[i])
		sl.hash = recs[i].Hash
		if m.next++; m.next == len(m.slots) {
			m.next, m.full = 0, true
		}
	}
	m.total += uint64(len(recs))
	return nil
}

// writeCanonical stores records given in canonical encoding (ends[i] is
// where record i's encoding ends in canon): a copy, not a re-encoding.
func (m *memorySink) writeCanonical(hashes []store.Hash, canon []byte, ends []int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := 0
	for i := range hashes {
		sl := &m.slots[m.next]
		sl.enc = append(sl.enc[:0], canon[start:ends[i]]...)
		sl.hash = hashes[i]
		start = ends[i]
		if m.next++; m.next == len(m.slots) {
			m.next, m.full = 0, true
		}
	}
	m.total += uint64(len(hashes))
	return nil
}

// records returns the records held, oldest first.
func (m *memorySink) records() []AuditRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	var order []ringSlot
	if m.full {
		order = append(order, m.slots[m.next:]...)
	}
	order = append(order, m.slots[:m.next]...)
	out := make([]AuditRecord, 0, len(order))
	for _, sl := range order {
		r, err := decodeCanonical(sl.enc)
		if err != nil {
			panic(err) // written by this package: cannot happen
		}
		r.Hash = sl.hash
		out = append(out, r)
	}
	return out
}
