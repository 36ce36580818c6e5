package storeapi

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

var update = flag.Bool("update", false, "rewrite testdata/wire.golden")

// TestWireGolden pins the wire format: one request per kind of value,
// every field set, encoded as the client sends it. A change to the format
// shows here as a diff; run with -update to accept it. Each request must
// also decode back, strictly, to the same value.
func TestWireGolden(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	eff := store.Deny
	cases := []struct {
		route string
		in    any
	}{
		{"revoke", &blockReq{Block: toWireBlock(store.Block{Tenant: "acme", ID: "tok_1", Kind: store.Revoked, Reason: "leaked", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})}},
		{"blocked", &blockedReq{Tenant: "acme", IDs: []string{"bot", "s1"}}},
		{"create_approval", &approvalMsg{Approval: toWireApproval(store.Approval{
			ID: "apr_1", Tenant: "acme", Fingerprint: "ab12", AgentID: "bot", SessionID: "s1", OnBehalfOf: "alice",
			Tool: "payments.charge", Resource: "cust-42", Attributes: []byte(`{"amount":40,"note":"<b>&"}`), Rule: "pay",
			Reason: "payments need a human", Approvers: []string{"ops-*"}, Status: store.ApprovalPending,
			CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute),
		})}},
		{"decide_approval", &decideReq{Tenant: "acme", ID: "apr_1", Decision: toWireDecision(store.ApprovalDecision{Status: store.ApprovalApproved, By: "carol", Note: "ok", At: t0, GrantExpiresAt: t0.Add(5 * time.Minute)})}},
		{"withdraw_approval", &decideReq{Tenant: "acme", ID: "apr_1", Decision: toWireDecision(store.ApprovalDecision{Status: store.ApprovalDenied, By: "dave", Note: "wrong card", At: t0})}},
		{"void_approval", &voidReq{Tenant: "acme", ID: "apr_1", Note: "allowed nothing: approver carol was stopped"}},
		{"append_audit", &recordsMsg{Records: toWireRecords([]store.AuditRecord{
			{Chain: "n1/acme", Seq: 1, ID: store.DecisionID{0x01, 0x90, 15: 0xff}, Time: t0, Tenant: "acme", AgentID: "bot", OnBehalfOf: "alice",
				SessionID: "s1", Tool: "docs.read", Resource: "doc/1", Attributes: []byte(`{"a":1}`), CredentialID: "tok_1", VouchedBy: "key_admin", RequestID: "abc-123",
				HopIDs: []string{"hop_1"}, Effect: store.Allow, Rule: "read", Reason: "ok", Latency: 1500, Hash: store.Hash{1, 31: 2}},
			{Chain: "n1/acme", Seq: 2, Time: t0, Attributes: []byte("{ \"spaced\": 1 }"), Effect: store.NeedsApproval, ApprovalID: "apr_1", PrevHash: store.Hash{1, 31: 2}},
		})}},
		{"query_audit", &queryAuditReq{Query: toWireAuditQuery(store.AuditQuery{Chain: "n1/acme", Tenant: "acme", AgentID: "bot", Tool: "docs.read", Effect: &eff,
			Since: t0, Until: t0.Add(time.Hour), DecisionID: store.DecisionID{1}, AfterChain: "n1/acme", AfterSeq: 9, Limit: 100})}},
		{"create_key", &keyMsg{Key: toWireKey(store.Key{ID: "key_1", Tenant: "acme", AgentID: "bot", Hash: [32]byte{0xde, 0xad, 31: 0xef}, Name: "bot key",
			Roles: []string{"agent"}, AllowedIPs: []string{"10.0.0.0/8"}, Caveats: []string{"tool in docs.*"}, CreatedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0)})}},
		{"put_policy", &putPolicyReq{Policy: toWirePolicy(store.PolicyDoc{Tenant: "acme", Version: 0, Format: "yaml", Body: []byte("rules: []\n"), UpdatedAt: t0}), ExpectVersion: 0}},
		{"create_hop", &hopReq{Hop: toWireHop(store.Hop{ID: "hop_1", Tenant: "acme", Parent: "", TokenID: "tok_1", KeyID: "key_1", AgentID: "bot", Caveats: []string{"tool = docs.read"}, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)})}},
		{"take_rate", &takeRateReq{Take: toWireRateTake(store.RateTake{Tenant: "acme", Limit: "per-agent", Key: "bot docs.read", Interval: 600 * time.Millisecond, Burst: 100, Now: t0})}},
		{"spend_budget", toWireSpend(&store.BudgetSpend{Tenant: "acme", Now: t0, Path: []store.BudgetNode{
			{ID: "key_1", Budgets: []store.BudgetLimit{{Name: "calls", Limit: 100}}}, {ID: "tok_1", ExpiresAt: t0.Add(time.Minute)},
			{ID: "hop_1", ExpiresAt: t0.Add(time.Minute), Budgets: []store.BudgetLimit{{Name: "attr.amount USD", Limit: 50_000_000}}}},
			Amounts: []store.BudgetAmount{{Name: "calls", Amount: 1}, {Name: "attr.amount USD", Amount: 12_500_000}}})},
		{"release_budget", &releaseBudgetReq{Tenant: "acme", ID: "hop_1"}},
		{"evaluate", &evaluateReq{Input: toWirePolicyInput(&agenttrust.PolicyInput{Tenant: "acme", AgentID: "bot", Tool: "docs.read", Resource: "doc/1", SessionID: "s1",
			OnBehalfOf: "alice", RemoteAddr: netip.MustParseAddr("10.1.2.3"), Attributes: map[string]any{"amount": 40, "tags": []string{"x"}}, HopIDs: []string{"hop_1"}, Time: t0})}},
	}
	routes := routeTable()
	var golden bytes.Buffer
	for _, c := range cases {
		b, err := encode(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.route, err)
		}
		golden.WriteString(c.route + " ")
		golden.Write(b)
		back := routes[c.route].newIn()
		if err := decodeStrict(b, routes[c.route].in, back); err != nil {
			t.Fatalf("%s: decoding what was encoded: %v", c.route, err)
		}
		if c.route != "evaluate" && !reflect.DeepEqual(back, c.in) { // numbers in attributes come back as json.Number
			t.Errorf("%s: round trip\n got %+v\nwant %+v", c.route, back, c.in)
		}
	}
	path := filepath.Join("testdata", "wire.golden")
	if *update {
		if err := os.WriteFile(path, golden.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(golden.Bytes(), want) {
		t.Errorf("the wire format changed:\n got %s\nwant %s", golden.Bytes(), want)
	}
}

// FuzzHandler posts arbitrary bodies to every route of a handler over a
// memory store: the handler never panics, answers 200 only for a body the
// strict decoder took, and every answer is JSON of the documented shape.
func FuzzHandler(f *testing.F) {
	for i, s := range []string{
		`{"tenant":"acme","ids":["x"]}`, `{"block":{"tenant":"a","id":"b","kind":"revoked"}}`,
		`{"records":[{"chain":"c","seq":1,"id":"00000000-0000-0000-0000-000000000000","effect":"allow","prev_hash":"` + zeros + `","hash":"` + zeros + `","attributes":{"a":1}}]}`,
		`{"input":{"tenant":"t","agent_id":"a","tool":"x","attributes":{"n":1e400}}}`, `{"hash":"` + zeros + `"}`,
		`{"approval":{"id":"a","tenant":"t","attributes_base64":"AAE="}}`, `[]`, `null`, `{"a":`,
	} {
		f.Add(uint8(i), s)
	}
	rs := routeTable()
	names := make([]string, 0, len(rs))
	for n := range rs {
		names = append(names, n)
	}
	slices.Sort(names)
	engine, err := agenttrust.NewRuleEngine(&agenttrust.Policy{})
	if err != nil {
		f.Fatal(err)
	}
	h := NewHandler(memory.New(), WithPolicyEngine(engine))
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		name := names[int(route)%len(names)]
		r := httptest.NewRequest(http.MethodPost, "/"+name, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { h.ServeHTTP(w, r); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: %q hangs", name, body)
		}
		if w.Code == http.StatusOK {
			if err := decodeStrict([]byte(body), rs[name].in, rs[name].newIn()); err != nil {
				t.Fatalf("%s: 200 for %q, which does not decode: %v", name, body, err)
			}
			if err := decodeStrict(w.Body.Bytes(), rs[name].out, rs[name].newOut()); err != nil {
				t.Fatalf("%s: the answer %q does not decode: %v", name, w.Body, err)
			}
			return
		}
		var eb errorBody
		if err := decodeStrict(w.Body.Bytes(), errorSchema, &eb); err != nil || eb.Error.Code == "" {
			t.Fatalf("%s: error answer %d %q: %v", name, w.Code, w.Body, err)
		}
	})
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"
