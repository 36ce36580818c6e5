package attack

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/postgres"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// The attacker of these tests has full write access to the audit table,
// but not to the server's secrets or its checkpoint file.

// testAuditSecret is the secret behind testAuditKey, the nodes' audit
// key.
var testAuditSecret = bytes.Repeat([]byte("a"), 32)

var testAuditKey, _ = agenttrust.NewAuditKey(testAuditSecret)

// rawAudit is write access to a store's audit table behind agenttrust's
// back.
type rawAudit interface {
	// deleteSeqs deletes records of chain.
	deleteSeqs(t *testing.T, chain string, seqs ...uint64)
	// replaceChain deletes every record of chain, then stores recs (of one
	// chain, from seq 1), if any.
	replaceChain(t *testing.T, chain string, recs []store.AuditRecord)
	// moveRecord moves record seq of chain to chain to, keeping its seq.
	moveRecord(t *testing.T, chain string, seq uint64, to string)
}

type auditBackend struct {
	name string
	open func(t *testing.T) (store.Store, rawAudit)
}

func auditBackends() []auditBackend {
	return []auditBackend{
		{"memory", func(t *testing.T) (store.Store, rawAudit) {
			st := &tamperStore{Store: memory.New(), over: map[string][]store.AuditRecord{}}
			return st, st
		}},
		{"sqlite", func(t *testing.T) (store.Store, rawAudit) {
			path := filepath.Join(t.TempDir(), "agenttrust.db")
			st, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return st, &sqlRaw{st: st, exec: func(q string, args ...any) error {
				_, err := db.Exec(q, args...)
				return err
			}, table: "audit", ph: func(i int) string { return "?" }}
		}},
		{"postgres", func(t *testing.T) (store.Store, rawAudit) {
			url := os.Getenv("AGENTTRUST_TEST_POSTGRES")
			if url == "" {
				t.Skip("set AGENTTRUST_TEST_POSTGRES to run the PostgreSQL cases")
			}
			var b [6]byte
			if _, err := rand.Read(b[:]); err != nil {
				t.Fatal(err)
			}
			schema := fmt.Sprintf("agenttrust_attack_%x", b)
			ctx := context.Background()
			st, err := postgres.Open(ctx, url, postgres.WithSchema(schema))
			if err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				st.Close()
				conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
				conn.Close(ctx)
			})
			return st, &sqlRaw{st: st, exec: func(q string, args ...any) error {
				_, err := conn.Exec(ctx, q, args...)
				return err
			}, table: pgx.Identifier{schema, "audit"}.Sanitize(), ph: func(i int) string { return fmt.Sprintf("$%d", i) }}
		}},
	}
}

// sqlRaw tampers with a SQL store's audit table.
type sqlRaw struct {
	st    store.Store
	exec  func(q string, args ...any) error
	table string
	ph    func(i int) string
}

func (r *sqlRaw) deleteSeqs(t *testing.T, chain string, seqs ...uint64) {
	t.Helper()
	for _, seq := range seqs {
		if err := r.exec("DELETE FROM "+r.table+" WHERE chain = "+r.ph(1)+" AND seq = "+r.ph(2), chain, int64(seq)); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *sqlRaw) replaceChain(t *testing.T, chain string, recs []store.AuditRecord) {
	t.Helper()
	if err := r.exec("DELETE FROM "+r.table+" WHERE chain = "+r.ph(1), chain); err != nil {
		t.Fatal(err)
	}
	if len(recs) > 0 {
		if err := r.st.AppendAudit(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *sqlRaw) moveRecord(t *testing.T, chain string, seq uint64, to string) {
	t.Helper()
	if err := r.exec("UPDATE "+r.table+" SET chain = "+r.ph(1)+" WHERE chain = "+r.ph(2)+" AND seq = "+r.ph(3), to, chain, int64(seq)); err != nil {
		t.Fatal(err)
	}
}

// tamperStore is a memory store whose audit rows an attacker can rewrite:
// a chain in over is read from there instead of the store.
type tamperStore struct {
	*memory.Store
	mu   sync.Mutex
	over map[string][]store.AuditRecord
}

func (s *tamperStore) rows(ctx context.Context) ([]store.AuditRecord, error) {
	all, err := s.Store.QueryAudit(ctx, store.AuditQuery{})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all = slices.DeleteFunc(all, func(r store.AuditRecord) bool { _, ok := s.over[r.Chain]; return ok })
	for _, recs := range s.over {
		all = append(all, recs...)
	}
	slices.SortFunc(all, func(a, b store.AuditRecord) int {
		return cmp.Or(cmp.Compare(a.Chain, b.Chain), cmp.Compare(a.Seq, b.Seq))
	})
	return all, nil
}

func (s *tamperStore) chainRows(chain string) []store.AuditRecord {
	all, _ := s.rows(context.Background())
	return slices.DeleteFunc(all, func(r store.AuditRecord) bool { return r.Chain != chain })
}

func (s *tamperStore) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	cur, ok := s.over[recs[0].Chain]
	if ok {
		defer s.mu.Unlock()
		next := uint64(1)
		if len(cur) > 0 {
			next = cur[len(cur)-1].Seq + 1
		}
		for i, r := range recs {
			if r.Seq != next+uint64(i) || r.Chain != recs[0].Chain {
				return store.ErrConflict
			}
		}
		s.over[recs[0].Chain] = append(cur, recs...)
		return nil
	}
	s.mu.Unlock()
	return s.Store.AppendAudit(ctx, recs)
}

func (s *tamperStore) AuditHead(ctx context.Context, chain string) (store.AuditRecord, error) {
	s.mu.Lock()
	cur, ok := s.over[chain]
	s.mu.Unlock()
	if !ok {
		return s.Store.AuditHead(ctx, chain)
	}
	if len(cur) == 0 {
		return store.AuditRecord{}, store.ErrNotFound
	}
	return cur[len(cur)-1], nil
}

func (s *tamperStore) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	all, err := s.rows(ctx)
	if err != nil {
		return nil, err
	}
	afterChain := cmp.Or(q.AfterChain, q.Chain)
	var out []store.AuditRecord
	for _, r := range all {
		switch {
		case q.Chain != "" && r.Chain != q.Chain, q.Tenant != "" && r.Tenant != q.Tenant,
			q.AgentID != "" && r.AgentID != q.AgentID, q.Tool != "" && r.Tool != q.Tool,
			q.Effect != nil && r.Effect != *q.Effect, !q.Since.IsZero() && r.Time.Before(q.Since),
			!q.Until.IsZero() && !r.Time.Before(q.Until), !q.DecisionID.IsZero() && r.ID != q.DecisionID,
			(afterChain != "" || q.AfterSeq != 0) && cmp.Or(cmp.Compare(r.Chain, afterChain), cmp.Compare(r.Seq, q.AfterSeq)) <= 0:
			continue
		}
		out = append(out, r)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func (s *tamperStore) deleteSeqs(t *testing.T, chain string, seqs ...uint64) {
	rows := s.chainRows(chain)
	rows = slices.DeleteFunc(rows, func(r store.AuditRecord) bool { return slices.Contains(seqs, r.Seq) })
	s.mu.Lock()
	s.over[chain] = rows
	s.mu.Unlock()
}

func (s *tamperStore) replaceChain(t *testing.T, chain string, recs []store.AuditRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.over[chain] = nil
	if len(recs) > 0 {
		s.over[recs[0].Chain] = slices.Clone(recs)
	}
}

func (s *tamperStore) moveRecord(t *testing.T, chain string, seq uint64, to string) {
	rows, dest := s.chainRows(chain), s.chainRows(to)
	i := slices.IndexFunc(rows, func(r store.AuditRecord) bool { return r.Seq == seq })
	if i < 0 {
		t.Fatalf("no record %d in %s", seq, chain)
	}
	r := rows[i]
	r.Chain = to
	s.mu.Lock()
	defer s.mu.Unlock()
	s.over[chain] = slices.Delete(rows, i, i+1)
	s.over[to] = append(dest, r)
}

// What the attacker can compute: the chain's encodings, with any hash or
// key but the server's.

func putS(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }

// encode is the canonical encoding of a record, in version 1 (SHA-256
// only, no VouchedBy) or 2 (the current one, with the optional request
// id).
func encode(r *store.AuditRecord, version byte) []byte {
	b := []byte{version}
	b = putS(b, r.Chain)
	b = binary.AppendUvarint(b, r.Seq)
	b = append(b, r.ID[:]...)
	b = binary.AppendVarint(b, r.Time.UnixNano())
	for _, s := range []string{r.Tenant, r.AgentID, r.OnBehalfOf, r.SessionID, r.Tool, r.Resource} {
		b = putS(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Attributes)))
	b = append(b, r.Attributes...)
	b = putS(b, r.CredentialID)
	if version >= 2 {
		b = putS(b, r.VouchedBy)
	}
	b = binary.AppendUvarint(b, uint64(len(r.HopIDs)))
	for _, h := range r.HopIDs {
		b = putS(b, h)
	}
	b = append(b, byte(r.Effect))
	b = putS(b, r.Rule)
	b = putS(b, r.Reason)
	b = putS(b, r.ApprovalID)
	b = binary.AppendVarint(b, int64(r.Latency))
	b = append(b, r.PrevHash[:]...)
	if version >= 2 && r.RequestID != "" {
		b = putS(append(b, 1), r.RequestID) // the optional request id, tag 1
	}
	return b
}

// sealer computes a record's Hash the way some scheme does.
type sealer func(r *store.AuditRecord) store.Hash

func sha256V1(r *store.AuditRecord) store.Hash { return sha256.Sum256(encode(r, 1)) }
func sha256V2(r *store.AuditRecord) store.Hash { return sha256.Sum256(encode(r, 2)) }

// hmacUnder MACs as agenttrust does, under a key derived from secret.
func hmacUnder(secret []byte) sealer {
	return func(r *store.AuditRecord) store.Hash {
		mac := func(key []byte, parts ...[]byte) []byte {
			m := hmac.New(sha256.New, key)
			for _, p := range parts {
				m.Write(p)
			}
			return m.Sum(nil)
		}
		root := mac(secret, []byte("agenttrust/audit/v2"))
		ck := mac(root, []byte("chain"), []byte{0}, []byte(r.Chain))
		var h store.Hash
		copy(h[:], mac(ck, encode(r, 2)))
		return h
	}
}

var guessedKey = hmacUnder(bytes.Repeat([]byte("g"), 32))

// reseal relinks recs from index from on and recomputes their hashes.
func reseal(recs []store.AuditRecord, from int, seal sealer) {
	for i := from; i < len(recs); i++ {
		if i > 0 {
			recs[i].PrevHash = recs[i-1].Hash
		} else {
			recs[i].PrevHash = store.Hash{}
		}
		recs[i].Hash = seal(&recs[i])
	}
}

// auditHarness is a server n1 over a store an attacker can write, with a
// checkpoint file the attacker cannot, and tenant acme with records.
type auditHarness struct {
	st     store.Store
	raw    rawAudit
	cpPath string
	cps    *audit.Checkpoints
	srv    *server.Server
	ts     *httptest.Server
	clock  *clock
	admin  string // acme admin key
	agent  string // acme agent key
}

const tamperChain = "n1/acme"

func newAuditHarness(t *testing.T, be auditBackend) *auditHarness {
	t.Helper()
	h := &auditHarness{clock: newClock()}
	h.st, h.raw = be.open(t)
	h.cpPath = filepath.Join(t.TempDir(), "checkpoints")
	if err := audit.CreateCheckpoints(h.cpPath, testAuditKey); err != nil {
		t.Fatal(err)
	}
	// The keys and the policy go straight to the store, so the chain
	// under attack holds the six decisions only (the same work done
	// through the client would add its operator records).
	ctx := context.Background()
	for _, k := range []struct {
		dst         *string
		agent, role string
	}{{&h.admin, "alice", "admin"}, {&h.agent, "bot", "agent"}} {
		secret, err := apikey.Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.st.CreateKey(ctx, store.Key{ID: "key_" + k.agent, Tenant: "acme", AgentID: k.agent, Hash: apikey.Hash(secret), Roles: []string{k.role}, CreatedAt: h.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		*k.dst = secret
	}
	if _, err := h.st.PutPolicy(ctx, store.PolicyDoc{Tenant: "acme", Format: "json", Body: []byte(nodePolicy), UpdatedAt: h.clock.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	c, err := h.srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		tool := "docs.read"
		if i%2 == 1 {
			tool = "docs.delete" // denied
		}
		if r := h.do(t, "POST", "/v1/actions/check", h.agent, fmt.Sprintf(`{"tool_name":%q}`, tool)); r.status != 200 {
			t.Fatalf("check: %d %s", r.status, r.body)
		}
	}
	if err := c.SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	if recs := h.records(t, tamperChain); len(recs) != 6 {
		t.Fatalf("%d records, want 6", len(recs))
	}
	if cp, ok := h.cps.Latest(tamperChain); !ok || cp.Seq != 6 {
		t.Fatalf("checkpoint %+v, %v; want seq 6", cp, ok)
	}
	return h
}

// start opens the checkpoint file and a server n1 over the store.
func (h *auditHarness) start(t *testing.T) {
	t.Helper()
	cps, err := audit.OpenCheckpoints(audit.CheckpointConfig{Path: h.cpPath, Key: testAuditKey})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(h.st, server.WithNodeName("n1"), server.WithClock(h.clock.Now), server.WithAuditKey(testAuditKey), server.WithAuditCheckpoints(cps),
		server.WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{masterKey()}}), agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{signingKey()}})))
	if err != nil {
		t.Fatal(err)
	}
	h.cps, h.srv, h.ts = cps, srv, httptest.NewServer(srv)
	t.Cleanup(h.stop)
}

func (h *auditHarness) stop() {
	if h.srv == nil {
		return
	}
	h.ts.Close()
	h.srv.Close()
	h.cps.Close()
	h.srv = nil
}

// restart stops the server and starts another over the same store and
// checkpoint file.
func (h *auditHarness) restart(t *testing.T) {
	t.Helper()
	h.stop()
	h.start(t)
}

func (h *auditHarness) do(t *testing.T, method, path, cred, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, h.ts.URL+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	return reply{status: res.StatusCode, body: buf.Bytes()}
}

func (h *auditHarness) records(t *testing.T, chain string) []store.AuditRecord {
	t.Helper()
	recs, err := h.st.QueryAudit(context.Background(), store.AuditQuery{Chain: chain})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// writeAs appends n checks' records to chain with a client of its own,
// keyed with key, writing straight to the store.
func (h *auditHarness) writeAs(t *testing.T, chain string, key agenttrust.AuditKey, n int) {
	t.Helper()
	c, err := agenttrust.New(h.st, agenttrust.WithTenant("acme"), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: chain, Key: key, Sinks: []agenttrust.AuditSink{audit.NewStoreSink(h.st)}}), agenttrust.WithClock(h.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// flip turns the first denial of recs into an allow.
func flip(t *testing.T, recs []store.AuditRecord) int {
	t.Helper()
	for i := range recs {
		if recs[i].Effect == store.Deny {
			recs[i].Effect, recs[i].Rule, recs[i].Reason = store.Allow, "read", ""
			return i
		}
	}
	t.Fatal("no denial to flip")
	return 0
}

// tamperCase is one attack. After it, the chain named must fail
// verification; with restart, the tenant must be refused (503
// audit_chain_broken) when refused is set, and report the break otherwise.
type tamperCase struct {
	name    string
	attack  func(t *testing.T, h *auditHarness)
	chain   string // the chain reported broken (tamperChain when empty)
	restart bool
	refused bool
}

func tamperCases() []tamperCase {
	other, _ := agenttrust.NewAuditKey(bytes.Repeat([]byte("o"), 32))
	del := func(seqs ...uint64) func(*testing.T, *auditHarness) {
		return func(t *testing.T, h *auditHarness) { h.raw.deleteSeqs(t, tamperChain, seqs...) }
	}
	rewrite := func(edit func(t *testing.T, recs []store.AuditRecord)) func(*testing.T, *auditHarness) {
		return func(t *testing.T, h *auditHarness) {
			recs := h.records(t, tamperChain)
			edit(t, recs)
			h.raw.replaceChain(t, tamperChain, recs)
		}
	}
	flipAndSeal := func(seal sealer) func(*testing.T, *auditHarness) {
		return rewrite(func(t *testing.T, recs []store.AuditRecord) { reseal(recs, flip(t, recs), seal) })
	}
	flipLastAndSeal := func(seal sealer) func(*testing.T, *auditHarness) {
		return rewrite(func(t *testing.T, recs []store.AuditRecord) {
			last := &recs[len(recs)-1]
			last.Effect, last.Rule, last.Reason = store.Deny+store.Allow-last.Effect, "read", ""
			reseal(recs, len(recs)-1, seal)
		})
	}
	appendForged := func(seal sealer) func(*testing.T, *auditHarness) {
		return func(t *testing.T, h *auditHarness) {
			recs := h.records(t, tamperChain)
			f := recs[len(recs)-1]
			f.Seq++
			f.ID[15] ^= 1
			f.Effect, f.Tool, f.Rule, f.Reason = store.Allow, "docs.delete", "read", ""
			f.PrevHash = recs[len(recs)-1].Hash
			f.Hash = seal(&f)
			if err := h.st.AppendAudit(context.Background(), []store.AuditRecord{f}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return []tamperCase{
		{name: "delete the last record", attack: del(6)},
		{name: "delete the last three records", attack: del(4, 5, 6)},
		{name: "delete every record of the chain", attack: del(1, 2, 3, 4, 5, 6)},
		{name: "delete a middle record", attack: del(3)},
		{name: "delete the first record", attack: del(1)},
		{name: "flip deny to allow keeping the hashes", attack: rewrite(func(t *testing.T, recs []store.AuditRecord) { flip(t, recs) })},
		{name: "flip deny to allow and recompute the old SHA-256 chain", attack: flipAndSeal(sha256V1)},
		{name: "flip deny to allow and recompute SHA-256 of the current encoding", attack: flipAndSeal(sha256V2)},
		{name: "flip deny to allow and recompute HMACs under a guessed key", attack: flipAndSeal(guessedKey)},
		{name: "change the reason keeping the hashes", attack: rewrite(func(t *testing.T, recs []store.AuditRecord) { recs[2].Reason = "fine" })},
		{name: "forge who vouched keeping the hashes", attack: rewrite(func(t *testing.T, recs []store.AuditRecord) { recs[2].VouchedBy = "key_other" })},
		{name: "change the request id keeping the hashes", attack: rewrite(func(t *testing.T, recs []store.AuditRecord) {
			if recs[2].RequestID == "" {
				t.Fatal("the server's records name no request id")
			}
			recs[2].RequestID = "req-other"
		})},
		{name: "drop the request id keeping the hashes", attack: rewrite(func(t *testing.T, recs []store.AuditRecord) { recs[3].RequestID = "" })},
		{name: "forged linked append under the old SHA-256 scheme", attack: appendForged(sha256V1)},
		{name: "forged linked append under SHA-256 of the current encoding", attack: appendForged(sha256V2)},
		{name: "forged linked append under a guessed key", attack: appendForged(guessedKey)},
		{name: "forged appends by an agenttrust client with its own key", attack: func(t *testing.T, h *auditHarness) {
			h.writeAs(t, tamperChain, other, 2)
		}},
		{name: "reorder two records keeping their hashes", attack: rewrite(func(t *testing.T, recs []store.AuditRecord) {
			recs[2], recs[3] = recs[3], recs[2]
			recs[2].Seq, recs[3].Seq = 3, 4
		})},
		{name: "reorder two records and recompute the SHA-256 chain", attack: rewrite(func(t *testing.T, recs []store.AuditRecord) {
			recs[2], recs[3] = recs[3], recs[2]
			recs[2].Seq, recs[3].Seq = 3, 4
			reseal(recs, 2, sha256V2)
		})},
		{name: "rename the chain", chain: "n2/acme", attack: func(t *testing.T, h *auditHarness) {
			recs := h.records(t, tamperChain)
			for i := range recs {
				recs[i].Chain = "n2/acme"
			}
			h.raw.replaceChain(t, tamperChain, nil)
			h.raw.replaceChain(t, "n2/acme", recs)
		}},
		{name: "rename the chain, the old name checked", attack: func(t *testing.T, h *auditHarness) {
			recs := h.records(t, tamperChain)
			for i := range recs {
				recs[i].Chain = "n2/acme"
			}
			h.raw.replaceChain(t, tamperChain, nil)
			h.raw.replaceChain(t, "n2/acme", recs)
		}},
		{name: "move one record to another chain", attack: func(t *testing.T, h *auditHarness) {
			h.raw.moveRecord(t, tamperChain, 3, "n9/acme")
		}},
		{name: "replay another chain's records, same key", attack: func(t *testing.T, h *auditHarness) {
			h.writeAs(t, "n2/acme", testAuditKey, 3)
			mine, theirs := h.records(t, tamperChain), h.records(t, "n2/acme")
			for i := range theirs {
				theirs[i].Chain, theirs[i].Seq = tamperChain, uint64(len(mine)+1+i)
				if i == 0 {
					theirs[i].PrevHash = mine[len(mine)-1].Hash
				} else {
					theirs[i].PrevHash = theirs[i-1].Hash
				}
			}
			if err := h.st.AppendAudit(context.Background(), theirs); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "replay the chain's own records as its tail", attack: func(t *testing.T, h *auditHarness) {
			mine := h.records(t, tamperChain)
			again := slices.Clone(mine[:3])
			for i := range again {
				again[i].Seq = uint64(len(mine) + 1 + i)
				if i == 0 {
					again[i].PrevHash = mine[len(mine)-1].Hash
				} else {
					again[i].PrevHash = again[i-1].Hash
				}
			}
			if err := h.st.AppendAudit(context.Background(), again); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "truncate then restart", attack: del(5, 6), restart: true, refused: true},
		{name: "delete the chain then restart", attack: del(1, 2, 3, 4, 5, 6), restart: true, refused: true},
		{name: "rewrite the last record then restart", attack: flipLastAndSeal(sha256V2), restart: true, refused: true},
		{name: "rewrite and recompute the chain then restart", attack: flipAndSeal(sha256V1), restart: true, refused: true},
		{name: "rewrite a middle record keeping hashes then restart", restart: true, attack: rewrite(func(t *testing.T, recs []store.AuditRecord) {
			recs[1].Effect = store.Allow
		})},
		{name: "forged linked append then restart", attack: appendForged(guessedKey), restart: true, refused: true},
		{name: "forged appends by a client with its own key then restart", restart: true, refused: true, attack: func(t *testing.T, h *auditHarness) {
			h.writeAs(t, tamperChain, other, 2)
		}},
	}
}

func TestAttackAuditTamper(t *testing.T) {
	for _, be := range auditBackends() {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range tamperCases() {
				t.Run(tc.name, func(t *testing.T) {
					h := newAuditHarness(t, be)
					tc.attack(t, h)
					chain := cmp.Or(tc.chain, tamperChain)
					ctx := context.Background()

					// The library sees it.
					err := audit.VerifyStoredChain(ctx, h.st, chain, testAuditKey, h.cps)
					var ce *agenttrust.ChainError
					if !errors.As(err, &ce) || !errors.Is(err, agenttrust.ErrChainBroken) {
						t.Errorf("library verification: %v, want a *ChainError", err)
					}

					if tc.restart {
						h.restart(t)
					}
					r := h.do(t, "GET", "/v1/audit/verify", h.admin, "")
					if tc.refused {
						if r.status != http.StatusServiceUnavailable || r.code() != "audit_chain_broken" {
							t.Fatalf("verify after restart: %d %s, want 503 audit_chain_broken", r.status, r.body)
						}
						c := h.do(t, "POST", "/v1/actions/check", h.agent, `{"tool_name":"docs.read"}`)
						if c.status != http.StatusServiceUnavailable || c.code() != "audit_chain_broken" {
							t.Errorf("check after restart: %d %s, want 503 audit_chain_broken (a deny)", c.status, c.body)
						}
						if rz := h.do(t, "GET", "/readyz", "", ""); rz.status != http.StatusServiceUnavailable || rz.object(t)["audit"] != "chain_broken" {
							t.Errorf("readyz: %d %s, want 503 chain_broken", rz.status, rz.body)
						}
						return
					}
					if r.status != 200 {
						t.Fatalf("verify: %d %s", r.status, r.body)
					}
					v := r.object(t)
					if v["ok"] != false {
						t.Fatalf("verify says ok after the attack: %s", r.body)
					}
					found := false
					for _, c := range v["chains"].([]any) {
						c := c.(map[string]any)
						if c["chain"] == chain {
							found = true
							if c["ok"] != false || c["problem"] == nil {
								t.Errorf("chain %s reported %v", chain, c)
							}
						}
					}
					if !found {
						t.Errorf("chain %s not reported: %s", chain, r.body)
					}
				})
			}
		})
	}
}

// TestAttackerEncodingIsExact: the attacker's encoding and MAC (encode,
// hmacUnder) are agenttrust's own, request ids included, so the attacks
// above fail for want of the key, not for a wrong encoding.
func TestAttackerEncodingIsExact(t *testing.T) {
	h := newAuditHarness(t, auditBackends()[0])
	recs := h.records(t, tamperChain)
	for _, r := range recs {
		if r.RequestID == "" {
			t.Fatalf("record %d names no request id", r.Seq)
		}
		if got := hmacUnder(testAuditSecret)(&r); got != r.Hash {
			t.Fatalf("record %d: the attacker's MAC under the real key %s, stored %s", r.Seq, got, r.Hash)
		}
	}
}
