package agenttrust_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

type auditVector struct {
	Record       agenttrust.AuditRecord `json:"record"`
	CanonicalHex string                 `json:"canonical_hex"`
}

type auditVectors struct {
	// AuditSecretHex is the secret given to NewAuditKey; the chain key of
	// each record is derived from it and the record's chain.
	AuditSecretHex string        `json:"audit_secret_hex"`
	Records        []auditVector `json:"records"`
}

// goldenAudit chains five fixed records under a fixed audit key.
func goldenAudit(t *testing.T) auditVectors {
	t.Helper()
	secret := bytes.Repeat([]byte{0x5a}, 32)
	key, err := agenttrust.NewAuditKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 22, 5, 0, 0, 123456000, time.UTC)
	recs := []agenttrust.AuditRecord{
		{Chain: "n1/acme", Tenant: "acme", AgentID: "billing-bot", OnBehalfOf: "alice", SessionID: "s1", Tool: "payments.charge",
			Resource: "invoice:42", Attributes: json.RawMessage(`{"amount":40}`), CredentialID: "tok_1", HopIDs: []string{"hop_1"},
			Effect: agenttrust.Allow, Rule: "small-charges", Reason: "small charges are fine", Latency: 1500},
		{Chain: "n1/acme", Tenant: "acme", AgentID: "billing-bot", Tool: "payments.refund", VouchedBy: "key_admin",
			Effect: agenttrust.Deny, Reason: "no rule allows this"},
		{Chain: "n1/acme", Tenant: "acme", AgentID: "billing-bot", Tool: "payments.charge", Attributes: json.RawMessage(`{"amount":400}`),
			Effect: agenttrust.NeedsApproval, Rule: "big-charges", ApprovalID: "apr_1"},
		// Added with RequestID: the three above encode as they did
		// before it existed; this one ends with the optional field.
		{Chain: "n1/acme", Tenant: "acme", AgentID: "billing-bot", Tool: "payments.charge", RequestID: "abc-123",
			Effect: agenttrust.Deny, Reason: "no rule allows this"},
		// Added with the shadow policy: a live allow the shadow would have
		// sent for approval, its fields after the request id.
		{Chain: "n1/acme", Tenant: "acme", AgentID: "billing-bot", Tool: "payments.charge", RequestID: "abc-124",
			Attributes: json.RawMessage(`{"amount":90}`), Effect: agenttrust.Allow, Rule: "small-charges",
			ShadowEffect: "needs_approval", ShadowRule: "big-charges"},
	}
	out := auditVectors{AuditSecretHex: hex.EncodeToString(secret)}
	var prev store.Hash
	for i := range recs {
		r := &recs[i]
		r.Seq, r.Time, r.PrevHash = uint64(i+1), t0.Add(time.Duration(i)*time.Second), prev
		r.ID = agenttrust.DecisionID{0x01, 0x93, byte(i)}
		r.Hash = agenttrust.AuditMAC(key, r)
		prev = r.Hash
		out.Records = append(out.Records, auditVector{Record: *r, CanonicalHex: hex.EncodeToString(agenttrust.AuditCanonical(r))})
	}
	return out
}

// TestAuditVectors pins the audit chain's canonical encoding (version 2,
// with its optional request id) and its HMAC-SHA256 under a chain key, so that another implementation
// can check records with the key alone.
func TestAuditVectors(t *testing.T) {
	got := goldenAudit(t)
	const path = "testdata/audit_vectors.json"
	if *update {
		// Compact: indenting would rewrite the attributes, which the MAC
		// covers byte for byte.
		b, _ := json.Marshal(got)
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	var want auditVectors
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Records) != len(got.Records) {
		t.Fatalf("%d vectors, want %d", len(got.Records), len(want.Records))
	}
	secret, _ := hex.DecodeString(want.AuditSecretHex)
	key, err := agenttrust.NewAuditKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	var recs []agenttrust.AuditRecord
	for i, v := range want.Records {
		if g := got.Records[i]; g.CanonicalHex != v.CanonicalHex || g.Record.Hash != v.Record.Hash {
			t.Errorf("record %d: audit encoding or MAC changed\n got %s %s\nwant %s %s", i, g.CanonicalHex, g.Record.Hash, v.CanonicalHex, v.Record.Hash)
		}
		recs = append(recs, v.Record)
	}
	if err := agenttrust.VerifyChain(recs, key); err != nil {
		t.Fatalf("the golden records do not verify: %v", err)
	}
}
