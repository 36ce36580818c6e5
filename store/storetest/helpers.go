package storetest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// Cases use fixed times, whole seconds from base, so that backends which
// store microseconds lose nothing. No case reads the clock.
var base = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// at returns base plus sec seconds.
func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// Tenants used by the cases.
const (
	acme   = "acme"
	globex = "globex"
)

// Audit chains used by the cases. Their names are lowercase letters only,
// so that every collation a database may use orders them as Go does.
const (
	alpha   = "alpha"
	bravo   = "bravo"
	charlie = "charlie"
)

// fingerprint returns a distinct hex SHA-256-shaped fingerprint for n.
func fingerprint(n int) string { return fmt.Sprintf("%064x", n) }

// recordID returns the decision id of record seq of chain: decisionID(seq)
// with the first bytes of the chain's name where the timestamp would be.
func recordID(chain string, seq uint64) store.DecisionID {
	id := decisionID(seq)
	copy(id[:6], chain)
	return id
}

// decisionID returns a distinct decision id for n.
func decisionID(n uint64) store.DecisionID {
	var id store.DecisionID
	binary.BigEndian.PutUint64(id[8:], n)
	id[6] = 0x70 // version 7
	return id
}

func block(tenant, id string, created int) store.Block {
	return store.Block{Tenant: tenant, ID: id, Reason: "reason for " + id, CreatedAt: at(created)}
}

// pendingApproval returns a fresh approval, with its own slices, that lapses
// an hour after it is created.
func pendingApproval(tenant, id string, fp, created int) store.Approval {
	return store.Approval{
		ID:          id,
		Tenant:      tenant,
		Fingerprint: fingerprint(fp),
		AgentID:     "agent-1",
		SessionID:   "session-1",
		OnBehalfOf:  "user-1",
		Tool:        "payments.transfer",
		Resource:    "account/42",
		Attributes:  json.RawMessage(`{"amount":100,"currency":"EUR"}`),
		Rule:        "large-transfer",
		Reason:      "amount above 50",
		Approvers:   []string{"alice", "bob"},
		Status:      store.ApprovalPending,
		CreatedAt:   at(created),
		ExpiresAt:   at(created + 3600),
	}
}

func approve(at time.Time, grantUntil time.Time) store.ApprovalDecision {
	return store.ApprovalDecision{Status: store.ApprovalApproved, By: "alice", ByKey: "key_alice", Note: "fine", At: at, GrantExpiresAt: grantUntil}
}

func deny(at time.Time) store.ApprovalDecision {
	return store.ApprovalDecision{Status: store.ApprovalDenied, By: "bob", ByKey: "key_bob", Note: "no", At: at}
}

func policy(tenant, body string) store.PolicyDoc {
	return store.PolicyDoc{Tenant: tenant, Format: "cedar", Body: []byte(body), UpdatedAt: at(0)}
}

// record returns a fresh audit record of chain alpha with sequence number
// seq.
func record(seq uint64) store.AuditRecord { return chainRecord(alpha, seq) }

// records returns fresh records of chain alpha with Seq from through to.
func records(from, to uint64) []store.AuditRecord { return chainRecords(alpha, from, to) }

// chainRecord returns a fresh audit record of chain with sequence number
// seq. Records of different chains differ in their decision ids.
func chainRecord(chain string, seq uint64) store.AuditRecord {
	r := store.AuditRecord{
		Chain:        chain,
		Seq:          seq,
		ID:           recordID(chain, seq),
		Time:         at(int(seq)),
		Tenant:       acme,
		AgentID:      "agent-1",
		OnBehalfOf:   "user-1",
		SessionID:    "session-1",
		Tool:         "files.read",
		Resource:     "file/" + fmt.Sprint(seq),
		Attributes:   json.RawMessage(`{"size":1}`),
		CredentialID: "cred-1",
		HopIDs:       []string{"hop-1", "hop-2"},
		Effect:       store.Allow,
		Rule:         "read-own-files",
		Reason:       "allowed by read-own-files",
		Latency:      1500 * time.Nanosecond,
		PrevHash:     seqHash(seq - 1),
		Hash:         seqHash(seq),
	}
	if seq%2 == 1 {
		r.VouchedBy = "key_admin-" + fmt.Sprint(seq)
	}
	return r
}

// chainRecords returns fresh records of chain with Seq from through to.
func chainRecords(chain string, from, to uint64) []store.AuditRecord {
	var out []store.AuditRecord
	for seq := from; seq <= to; seq++ {
		out = append(out, chainRecord(chain, seq))
	}
	return out
}

// secret returns the n-th API key secret of the cases, and keyHash its
// SHA-256.
func secret(n int) string { return fmt.Sprint("storetest-secret-", n) }

func keyHash(n int) [32]byte { return sha256.Sum256([]byte(secret(n))) }

// apiKey returns a fresh key, with its own slices, whose hash is
// keyHash(n).
func apiKey(tenant, id string, n, created int) store.Key {
	return store.Key{
		ID:         id,
		Tenant:     tenant,
		AgentID:    "agent-1",
		Hash:       keyHash(n),
		Name:       "key " + id,
		Roles:      []string{"agent", "approver"},
		AllowedIPs: []string{"10.0.0.0/8", "2001:db8::/32"},
		Caveats:    []string{"tool = files.read", "resource prefix file/"},
		CreatedAt:  at(created),
		ExpiresAt:  at(created + 86400),
	}
}

// hop returns a fresh delegation hop, with its own slice.
func hop(tenant, id, parent, token, key string, created int) store.Hop {
	return store.Hop{
		ID:        id,
		Tenant:    tenant,
		Parent:    parent,
		TokenID:   token,
		KeyID:     key,
		AgentID:   "agent-2",
		Caveats:   []string{"tool = files.read", "expires " + at(created+600).Format(time.RFC3339)},
		CreatedAt: at(created),
		ExpiresAt: at(created + 600),
	}
}

// ok fails the case now when err is not nil.
func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

// isErrOneOf fails the case now unless err wraps one of targets.
func isErrOneOf(t *testing.T, err error, what string, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if errors.Is(err, target) {
			return
		}
	}
	t.Fatalf("%s: error = %v, want one wrapping one of %v", what, err, targets)
}

// isErr fails the case now unless err wraps target.
func isErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want one wrapping %v", what, err, target)
	}
}

// Comparisons normalize what a backend may legitimately change: the
// location and monotonic reading of times, and nil versus empty slices.

func normBlock(b store.Block) store.Block {
	b.CreatedAt = b.CreatedAt.UTC()
	b.ExpiresAt = b.ExpiresAt.UTC()
	return b
}

func normApproval(a store.Approval) store.Approval {
	if len(a.Attributes) == 0 {
		a.Attributes = nil
	}
	if len(a.Approvers) == 0 {
		a.Approvers = nil
	}
	if len(a.DecidedByCredentials) == 0 {
		a.DecidedByCredentials = nil
	}
	for _, p := range []*time.Time{&a.CreatedAt, &a.ExpiresAt, &a.DecidedAt, &a.GrantExpiresAt, &a.ConsumedAt} {
		*p = p.UTC()
	}
	return a
}

func normPolicy(d store.PolicyDoc) store.PolicyDoc {
	if len(d.Body) == 0 {
		d.Body = nil
	}
	d.UpdatedAt = d.UpdatedAt.UTC()
	return d
}

func normRecord(r store.AuditRecord) store.AuditRecord {
	if len(r.Attributes) == 0 {
		r.Attributes = nil
	}
	if len(r.HopIDs) == 0 {
		r.HopIDs = nil
	}
	r.Time = r.Time.UTC()
	return r
}

func normKey(k store.Key) store.Key {
	if len(k.Roles) == 0 {
		k.Roles = nil
	}
	if len(k.AllowedIPs) == 0 {
		k.AllowedIPs = nil
	}
	if len(k.Caveats) == 0 {
		k.Caveats = nil
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt = k.ExpiresAt.UTC()
	return k
}

func normHop(h store.Hop) store.Hop {
	if len(h.Caveats) == 0 {
		h.Caveats = nil
	}
	h.CreatedAt = h.CreatedAt.UTC()
	h.ExpiresAt = h.ExpiresAt.UTC()
	return h
}

func equalKey(t *testing.T, what string, got, want store.Key) {
	t.Helper()
	equal(t, what, normKey(got), normKey(want))
}

func equalHop(t *testing.T, what string, got, want store.Hop) {
	t.Helper()
	equal(t, what, normHop(got), normHop(want))
}

func equalBlock(t *testing.T, what string, got, want store.Block) {
	t.Helper()
	equal(t, what, normBlock(got), normBlock(want))
}

func equalApproval(t *testing.T, what string, got, want store.Approval) {
	t.Helper()
	equal(t, what, normApproval(got), normApproval(want))
}

func equalPolicy(t *testing.T, what string, got, want store.PolicyDoc) {
	t.Helper()
	equal(t, what, normPolicy(got), normPolicy(want))
}

func equalRecords(t *testing.T, what string, got, want []store.AuditRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d records %v, want %d %v", what, len(got), positions(got), len(want), positions(want))
		return
	}
	for i := range got {
		equal(t, fmt.Sprintf("%s: record %d", what, i), normRecord(got[i]), normRecord(want[i]))
	}
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

// show formats v for a failure message, with byte slices as text.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// positions returns "chain/seq" for each record, in order.
func positions(recs []store.AuditRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprintf("%s/%d", r.Chain, r.Seq)
	}
	return out
}

func seqs(recs []store.AuditRecord) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

// blockKeys returns "tenant/id/kind" for each block, in order.
func blockKeys(bs []store.Block) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Tenant + "/" + b.ID + "/" + b.Kind.String()
	}
	return out
}

// keyIDs returns "tenant/id" for each key, in order.
func keyIDs(ks []store.Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Tenant + "/" + k.ID
	}
	return out
}

// hopIDs returns "tenant/id" for each hop, in order.
func hopIDs(hs []store.Hop) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Tenant + "/" + h.ID
	}
	return out
}

// approvalKeys returns "tenant/id" for each approval, in order.
func approvalKeys(as []store.Approval) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Tenant + "/" + a.ID
	}
	return out
}

func equalKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// blocked fails the case unless ids in tenant are blocked by wantID with
// wantKind.
func blocked(t *testing.T, s store.Store, tenant string, ids []string, wantID string, wantKind store.BlockKind) store.Block {
	t.Helper()
	b, isBlocked, err := s.Blocked(t.Context(), tenant, ids)
	ok(t, err, "Blocked")
	if !isBlocked || b.ID != wantID || b.Kind != wantKind || b.Tenant != tenant {
		t.Fatalf("Blocked(%q, %q) = %s %s in %q, %v; want %s %s", tenant, ids, b.Kind, b.ID, b.Tenant, isBlocked, wantKind, wantID)
	}
	return b
}

// notBlocked fails the case if any of ids in tenant is blocked.
func notBlocked(t *testing.T, s store.Store, tenant string, ids ...string) {
	t.Helper()
	b, isBlocked, err := s.Blocked(t.Context(), tenant, ids)
	ok(t, err, "Blocked")
	if isBlocked {
		t.Fatalf("Blocked(%q, %q) = %s %s, want not blocked", tenant, ids, b.Kind, b.ID)
	}
	if b != (store.Block{}) {
		t.Errorf("Blocked(%q, %q) returned %+v with false, want the zero Block", tenant, ids, b)
	}
}

func listBlocks(t *testing.T, s store.Store, tenant string) []store.Block {
	t.Helper()
	bs, err := s.Blocks(t.Context(), tenant)
	ok(t, err, "Blocks")
	return bs
}

func getApproval(t *testing.T, s store.Store, tenant, id string) store.Approval {
	t.Helper()
	a, err := s.Approval(t.Context(), tenant, id)
	ok(t, err, "Approval")
	return a
}

func getKey(t *testing.T, s store.Store, tenant, id string) store.Key {
	t.Helper()
	k, err := s.Key(t.Context(), tenant, id)
	ok(t, err, "Key")
	return k
}

func listKeys(t *testing.T, s store.Store, tenant string) []store.Key {
	t.Helper()
	ks, err := s.Keys(t.Context(), tenant)
	ok(t, err, "Keys")
	return ks
}

func listHops(t *testing.T, s store.Store, f store.HopFilter) []store.Hop {
	t.Helper()
	hs, err := s.Hops(t.Context(), f)
	ok(t, err, "Hops")
	return hs
}

func auditHead(t *testing.T, s store.Store, chain string) store.AuditRecord {
	t.Helper()
	r, err := s.AuditHead(t.Context(), chain)
	ok(t, err, "AuditHead "+chain)
	return r
}

func queryAudit(t *testing.T, s store.Store, q store.AuditQuery) []store.AuditRecord {
	t.Helper()
	recs, err := s.QueryAudit(t.Context(), q)
	ok(t, err, "QueryAudit")
	return recs
}

// seqHash is a recognisable stand-in hash for record seq.
func seqHash(seq uint64) store.Hash {
	var h store.Hash
	binary.BigEndian.PutUint64(h[24:], seq)
	return h
}
