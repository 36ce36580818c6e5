package agenttrust

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// The attacker of these tests can rewrite stored audit records (and, for
// the file cases, the checkpoint file's bytes), but holds neither the
// audit key nor the checkpoint MAC key.

var (
	attackSecret = bytes.Repeat([]byte("k"), 32)
	guessSecret  = bytes.Repeat([]byte("g"), 32)
)

func mustAuditKey(t testing.TB, secret []byte) AuditKey {
	t.Helper()
	k, err := NewAuditKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// chainOf writes n records (denials and allows in turn, one vouched for)
// to chain under key and returns them.
func chainOf(t testing.TB, chain string, key AuditKey, n int) []AuditRecord {
	t.Helper()
	ring := NewMemorySink(n)
	c, err := New(memory.New(), WithAudit(AuditConfig{Key: key, Chain: chain, Sinks: []AuditSink{ring}}),
		WithPolicy(&Policy{Rules: []Rule{{ID: "read", Effect: Allow, Tools: []string{"docs.read"}}}}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		tool := "docs.read"
		if i%2 == 1 {
			tool = "docs.delete"
		}
		c.Check(context.Background(), Request{AgentID: "bot", Tool: tool})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	recs := ring.Records()
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	return recs
}

// sealWith recomputes the hashes of recs from index from on, relinking
// them, with seal.
func sealWith(recs []AuditRecord, from int, seal func(*AuditRecord) store.Hash) []AuditRecord {
	for i := from; i < len(recs); i++ {
		recs[i].PrevHash = store.Hash{}
		if i > 0 {
			recs[i].PrevHash = recs[i-1].Hash
		}
		recs[i].Hash = seal(&recs[i])
	}
	return recs
}

func unkeyedSHA256(r *AuditRecord) store.Hash { return sha256.Sum256(appendCanonical(nil, r)) }

func macUnder(key AuditKey) func(*AuditRecord) store.Hash {
	return func(r *AuditRecord) store.Hash {
		var h store.Hash
		hashRecord(nil, key.chainMAC(r.Chain), r, &h)
		return h
	}
}

// shiftTime moves the time of r[i] by k * 2^64 ns.
func shiftTime(r []AuditRecord, i, k int) []AuditRecord {
	for range max(k, -k) * 2 {
		if k < 0 {
			r[i].Time = r[i].Time.Add(math.MinInt64)
		} else {
			r[i].Time = r[i].Time.Add(math.MaxInt64).Add(1)
		}
	}
	return r
}

// exported is r as a JSON export (a sink, the API) hands it back.
func exported(r []AuditRecord) []AuditRecord {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	var out []AuditRecord
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func TestAttackAuditChain(t *testing.T) {
	key := mustAuditKey(t, attackSecret)
	guess := mustAuditKey(t, guessSecret)
	firstDeny := func(recs []AuditRecord) int {
		for i := range recs {
			if recs[i].Effect == Deny {
				return i
			}
		}
		return -1
	}
	flip := func(recs []AuditRecord) int {
		i := firstDeny(recs)
		recs[i].Effect, recs[i].Rule, recs[i].Reason = Allow, "read", ""
		return i
	}
	other := chainOf(t, "n2/acme", key, 4)
	cases := []struct {
		name   string
		tamper func(recs []AuditRecord) []AuditRecord
	}{
		{"flip deny to allow keeping the hash", func(r []AuditRecord) []AuditRecord { flip(r); return r }},
		{"flip deny to allow and recompute unkeyed SHA-256", func(r []AuditRecord) []AuditRecord { return sealWith(r, flip(r), unkeyedSHA256) }},
		{"flip deny to allow and recompute under a guessed key", func(r []AuditRecord) []AuditRecord { return sealWith(r, flip(r), macUnder(guess)) }},
		{"edit the agent keeping the hash", func(r []AuditRecord) []AuditRecord { r[2].AgentID = "someone"; return r }},
		{"edit the time keeping the hash", func(r []AuditRecord) []AuditRecord { r[2].Time = r[2].Time.Add(-time.Hour); return r }},
		{"edit the tenant keeping the hash", func(r []AuditRecord) []AuditRecord { r[2].Tenant = "globex"; return r }},
		{"add who vouched keeping the hash", func(r []AuditRecord) []AuditRecord { r[2].VouchedBy = "key_admin"; return r }},
		{"remove who vouched keeping the hash", func(r []AuditRecord) []AuditRecord {
			r = sealWith(r, 0, func(x *AuditRecord) store.Hash { x.VouchedBy = "key_admin"; return macUnder(key)(x) })
			r[2].VouchedBy = ""
			return r
		}},
		{"add a request id keeping the hash", func(r []AuditRecord) []AuditRecord { r[2].RequestID = "abc-123"; return r }},
		{"edit the request id keeping the hash", func(r []AuditRecord) []AuditRecord {
			r = sealWith(r, 0, func(x *AuditRecord) store.Hash { x.RequestID = "abc-123"; return macUnder(key)(x) })
			r[2].RequestID = "abc-124"
			return r
		}},
		{"remove the request id keeping the hash", func(r []AuditRecord) []AuditRecord {
			r = sealWith(r, 0, func(x *AuditRecord) store.Hash { x.RequestID = "abc-123"; return macUnder(key)(x) })
			r[2].RequestID = ""
			return r
		}},
		{"forged linked append, unkeyed SHA-256", func(r []AuditRecord) []AuditRecord {
			f := r[len(r)-1]
			f.Seq++
			f.Effect = Allow
			r = append(r, f)
			return sealWith(r, len(r)-1, unkeyedSHA256)
		}},
		{"forged linked append under a guessed key", func(r []AuditRecord) []AuditRecord {
			f := r[len(r)-1]
			f.Seq++
			r = append(r, f)
			return sealWith(r, len(r)-1, macUnder(guess))
		}},
		{"forged linked append copying the last hash", func(r []AuditRecord) []AuditRecord {
			f := r[len(r)-1]
			f.Seq++
			f.PrevHash = r[len(r)-1].Hash
			return append(r, f)
		}},
		{"drop a middle record", func(r []AuditRecord) []AuditRecord { return append(r[:3], r[4:]...) }},
		{"drop a middle record and renumber", func(r []AuditRecord) []AuditRecord {
			r = append(r[:3], r[4:]...)
			for i := 3; i < len(r); i++ {
				r[i].Seq--
			}
			return r
		}},
		{"reorder two records", func(r []AuditRecord) []AuditRecord { r[2], r[3] = r[3], r[2]; return r }},
		{"reorder two records and renumber", func(r []AuditRecord) []AuditRecord {
			r[2], r[3] = r[3], r[2]
			r[2].Seq, r[3].Seq = r[3].Seq, r[2].Seq
			return r
		}},
		{"rename the chain", func(r []AuditRecord) []AuditRecord {
			for i := range r {
				r[i].Chain = "n9/acme"
			}
			return r
		}},
		{"rename the chain and recompute unkeyed", func(r []AuditRecord) []AuditRecord {
			for i := range r {
				r[i].Chain = "n9/acme"
			}
			return sealWith(r, 0, unkeyedSHA256)
		}},
		{"mix in a record of another chain", func(r []AuditRecord) []AuditRecord { return append(r, other[len(r)%len(other)]) }},
		{"replay another chain's records under the same key", func(r []AuditRecord) []AuditRecord {
			tail := append([]AuditRecord(nil), other...)
			for i := range tail {
				tail[i].Chain, tail[i].Seq = r[0].Chain, uint64(len(r)+1+i)
			}
			r = append(r, tail...)
			for i := len(r) - len(tail); i < len(r); i++ {
				r[i].PrevHash = r[i-1].Hash
			}
			return r
		}},
		{"replay the chain's own records as its tail", func(r []AuditRecord) []AuditRecord {
			tail := append([]AuditRecord(nil), r[:2]...)
			n := len(r)
			for i := range tail {
				tail[i].Seq = uint64(n + 1 + i)
			}
			r = append(r, tail...)
			for i := n; i < len(r); i++ {
				r[i].PrevHash = r[i-1].Hash
			}
			return r
		}},
		{"first record given a previous hash", func(r []AuditRecord) []AuditRecord { r[0].PrevHash[0] = 1; return r }},
		{"sequence number zero recomputed", func(r []AuditRecord) []AuditRecord {
			r[0].Seq = 0
			return sealWith(r[:1], 0, macUnder(guess))
		}},
		{"whole chain recomputed under a guessed key", func(r []AuditRecord) []AuditRecord { return sealWith(r, 0, macUnder(guess)) }},
		// The canonical encoding holds the time as UnixNano, which wraps
		// outside the years 1678 to 2262: a time moved by 2^64 ns encodes
		// as it did, so the hash alone does not see it.
		{"move the time back 2^64 ns in an export", func(r []AuditRecord) []AuditRecord {
			return exported(shiftTime(r, 2, -1))
		}},
		{"move the time on 2^64 ns in an export", func(r []AuditRecord) []AuditRecord {
			return exported(shiftTime(r, 2, 1))
		}},
		{"move the time back 125 * 2^64 ns, a whole microsecond", func(r []AuditRecord) []AuditRecord { return shiftTime(r, 2, -125) }},
		{"move the time on 125 * 2^64 ns, a whole microsecond", func(r []AuditRecord) []AuditRecord { return shiftTime(r, 2, 125) }},
		{"nudge the time by a nanosecond", func(r []AuditRecord) []AuditRecord { r[2].Time = r[2].Time.Add(1); return r }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs := tc.tamper(chainOf(t, "n1/acme", key, 8))
			err := VerifyChain(recs, key)
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrChainBroken) {
				t.Fatalf("VerifyChain: %v, want a *ChainError", err)
			}
		})
	}
	t.Run("the zero key verifies nothing", func(t *testing.T) {
		if err := VerifyChain(chainOf(t, "n1/acme", key, 2), AuditKey{}); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("VerifyChain with the zero key: %v, want ErrInvalidConfig", err)
		}
	})
	t.Run("another key verifies nothing", func(t *testing.T) {
		err := VerifyChain(chainOf(t, "n1/acme", key, 2), guess)
		if !errors.Is(err, ErrChainBroken) {
			t.Fatalf("VerifyChain with another key: %v, want ErrChainBroken", err)
		}
	})
	t.Run("a short secret is refused", func(t *testing.T) {
		if _, err := NewAuditKey(bytes.Repeat([]byte("s"), 31)); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("NewAuditKey of 31 bytes: %v, want ErrInvalidConfig", err)
		}
	})
	t.Run("a client without a key does not share one", func(t *testing.T) {
		ring := NewMemorySink(4)
		c, err := New(memory.New(), WithAudit(AuditConfig{Sinks: []AuditSink{ring}}))
		if err != nil {
			t.Fatal(err)
		}
		c.Check(context.Background(), Request{AgentID: "a", Tool: "t"})
		c.Close()
		d, err := New(memory.New())
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := c.VerifyChain(ring.Records()); err != nil {
			t.Fatalf("the writing client: %v", err)
		}
		if err := d.VerifyChain(ring.Records()); !errors.Is(err, ErrChainBroken) {
			t.Fatalf("another client without a key: %v, want ErrChainBroken", err)
		}
	})
}

// TestAuditKeyRedacted: the key never prints, logs or marshals, in any
// form, alone or inside another value.
func TestAuditKeyRedacted(t *testing.T) {
	key := mustAuditKey(t, attackSecret)
	type holder struct {
		Key AuditKey
		P   *AuditKey
	}
	h := holder{Key: key, P: &key}
	var out []string
	for _, v := range []any{key, &key, h, &h} {
		out = append(out, fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprintf("%s", v), fmt.Sprintf("%x", v))
		j, _ := json.Marshal(v)
		out = append(out, string(j))
		var b strings.Builder
		slog.New(slog.NewTextHandler(&b, nil)).Info("m", "k", v)
		slog.New(slog.NewJSONHandler(&b, nil)).Info("m", "k", v)
		out = append(out, b.String())
	}
	root := key.root[:]
	leaks := []string{string(attackSecret), string(root), hex.EncodeToString(root), base64.StdEncoding.EncodeToString(root),
		fmt.Sprint(*key.root), fmt.Sprintf("%x", root)[:16]}
	for _, s := range out {
		for _, l := range leaks {
			if strings.Contains(s, l) {
				t.Fatalf("audit key printed as %q", s)
			}
		}
	}
}
