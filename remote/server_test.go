package remote_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/memnet"
	"github.com/agenttrust/agenttrust/internal/storeapi"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/storetest"
)

// These tests drive the real server (package server) over HTTP.

const acmePolicy = `{"rules":[
 {"id":"read","effect":"allow","tools":["docs.read"]},
 {"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"payments need a human"},
 {"id":"no-delete","effect":"deny","tools":["docs.delete"],"reason":"never"}
]}`

// deployment is a server over a memory store with the store API mounted,
// a system tenant "ops" and a tenant "acme" with a policy.
type deployment struct {
	url  string
	hc   *http.Client // the in-process network's, or nil for TCP
	st   *memory.Store
	srv  *server.Server
	keys map[string]string // agent -> API key
	ids  map[string]string // agent -> key id
}

func deploy(t testing.TB) *deployment { return deployWith(t, true) }

// deployBubble deploys on an in-process network, for tests that run in
// a testing/synctest bubble so that the server's waits pass on the
// bubble's clock.
func deployBubble(t testing.TB) *deployment {
	t.Helper()
	l, err := memnet.Listen("127.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	return deployOn(t, true, l)
}

var testAuditKey, _ = agenttrust.NewAuditKey(bytes.Repeat([]byte("a"), 32))

// deployWith deploys; without acme, the store holds only the system
// tenant's admin key.
func deployWith(t testing.TB, acme bool) *deployment {
	t.Helper()
	return deployOn(t, acme, nil)
}

// deployOn serves on l, or on a loopback TCP port when l is nil, with
// opts on top of the deployment's own server options.
func deployOn(t testing.TB, acme bool, l *memnet.Listener, opts ...server.Option) *deployment {
	t.Helper()
	ctx := context.Background()
	st := memory.New()
	engine, err := storeapi.NewStoredPolicies(st)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(st, append([]server.Option{
		server.WithNodeName("n1"),
		server.WithSystemTenant("ops"),
		server.WithAuditKey(testAuditKey),
		server.WithStoreAPI(storeapi.NewHandler(st, storeapi.WithPolicyEngine(engine))),
		server.WithClientOptions(
			agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{{ID: "mk1", Secret: bytes.Repeat([]byte("m"), 32)}}}),
			agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{{ID: "sk1", Secret: bytes.Repeat([]byte("s"), 32)}}}),
		),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var ts *httptest.Server
	var hc *http.Client
	if l == nil {
		ts = httptest.NewServer(srv)
	} else {
		ts = httptest.NewUnstartedServer(srv)
		ts.Listener.Close()
		ts.Listener = l
		ts.Start()
		hc = ts.Client()
		hc.Transport.(*http.Transport).DialContext = l.DialContext
	}
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
		_ = st.Close()
	})
	d := &deployment{url: ts.URL, hc: hc, st: st, srv: srv, keys: map[string]string{}, ids: map[string]string{}}
	for _, k := range []struct {
		tenant, agent string
		roles         []string
	}{
		{"ops", "root", []string{store.RoleAdmin}},
		{"acme", "alice", []string{store.RoleAdmin}},
		{"acme", "bot", []string{store.RoleAgent}},
		{"acme", "carol", []string{store.RoleApprover}},
	} {
		if k.tenant == "acme" && !acme {
			continue
		}
		if !acme {
			// The store suite's deployment: its key goes straight to the
			// store, so that no case sees even the audit record creating
			// the key would leave.
			secret, err := apikey.Generate(testkit.NewRandom())
			if err != nil {
				t.Fatal(err)
			}
			id := "key_" + k.agent
			if err := st.CreateKey(ctx, store.Key{ID: id, Tenant: k.tenant, AgentID: k.agent, Hash: apikey.Hash(secret), Roles: k.roles}); err != nil {
				t.Fatal(err)
			}
			d.keys[k.agent], d.ids[k.agent] = secret, id
			continue
		}
		c, err := srv.Client(ctx, k.tenant)
		if err != nil {
			t.Fatal(err)
		}
		secret, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: k.agent, Roles: k.roles})
		if err != nil {
			t.Fatal(err)
		}
		d.keys[k.agent], d.ids[k.agent] = secret, key.ID
	}
	if !acme {
		return d
	}
	c, err := srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SavePolicy(ctx, []byte(acmePolicy), "json", 0); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *deployment) client(t testing.TB, agent string) *remote.Client {
	t.Helper()
	opts := []remote.Option{remote.WithRetries(1), remote.WithLongPoll(5 * time.Second)}
	if d.hc != nil {
		opts = append(opts, remote.WithHTTPClient(d.hc))
	}
	c, err := remote.New(d.url, d.keys[agent], opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestServerCheckApprovalRevocation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := deployBubble(t)
		ctx := t.Context()
		bot, carol, alice := d.client(t, "bot"), d.client(t, "carol"), d.client(t, "alice")

		dec, err := bot.Check(ctx, agenttrust.Request{Tool: "docs.read", Resource: "doc/1"})
		if err != nil || !dec.Allowed() || dec.Rule != "read" || dec.AgentID != "bot" || dec.ID.IsZero() {
			t.Fatalf("Check docs.read = %+v, %v", dec, err)
		}
		dec, err = bot.Check(ctx, agenttrust.Request{Tool: "docs.delete", Resource: "doc/1"})
		if err != nil || dec.Effect != agenttrust.Deny || dec.Rule != "no-delete" || dec.Reason != "never" {
			t.Fatalf("Check docs.delete = %+v, %v", dec, err)
		}

		// Needs approval: the agent waits, an approver grants, the agent's
		// retry is allowed once.
		charge := agenttrust.Request{Tool: "payments.charge", Resource: "cust-42", Attributes: map[string]any{"amount": 40}}
		dec, err = bot.Check(ctx, charge)
		if err != nil || dec.Effect != agenttrust.NeedsApproval || dec.ApprovalID == "" {
			t.Fatalf("Check payments.charge = %+v, %v", dec, err)
		}
		pending, err := carol.Approvals(ctx, agenttrust.ApprovalFilter{Status: agenttrust.ApprovalPending})
		if err != nil || len(pending) != 1 || pending[0].ID != dec.ApprovalID || string(pending[0].Attributes) != `{"amount":40}` {
			t.Fatalf("Approvals = %+v, %v", pending, err)
		}
		waited := make(chan agenttrust.Approval, 1)
		waitErr := make(chan error, 1)
		go func() {
			a, err := bot.WaitApproval(ctx, dec.ApprovalID)
			waited <- a
			waitErr <- err
		}()
		if _, err := bot.Approve(ctx, dec.ApprovalID, "me"); !errors.Is(err, remote.ErrForbidden) {
			t.Fatalf("the agent approving itself: %v, want ErrForbidden", err)
		}
		synctest.Wait() // the agent's long poll is parked in the server
		start := time.Now()
		a, err := carol.Approve(ctx, dec.ApprovalID, "fine")
		if err != nil || a.Status != agenttrust.ApprovalApproved || a.DecidedBy != "carol" || a.Note != "fine" {
			t.Fatalf("Approve = %+v, %v", a, err)
		}
		// The decision wakes the long poll at once: no time passes in the
		// bubble, so no poll of the server's could have.
		synctest.Wait()
		select {
		case a := <-waited:
			if a.Status != agenttrust.ApprovalApproved || <-waitErr != nil {
				t.Fatalf("WaitApproval = %+v", a)
			}
		default:
			t.Fatal("the approval did not wake the agent's WaitApproval")
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("WaitApproval answered %v after the approval, want at once", d)
		}
		if _, err := carol.Approve(ctx, dec.ApprovalID, "again"); !errors.Is(err, errs.ApprovalResolved) && !errors.Is(err, remote.ErrConflict) {
			t.Fatalf("approving twice: %v", err)
		}
		dec, err = bot.Check(ctx, charge)
		if err != nil || !dec.Allowed() || dec.ApprovalID == "" {
			t.Fatalf("Check after approval = %+v, %v", dec, err)
		}
		dec, err = bot.Check(ctx, charge)
		if err != nil || dec.Effect != agenttrust.NeedsApproval {
			t.Fatalf("second Check after approval = %+v, %v (a grant is used once)", dec, err)
		}
		if _, err := bot.WaitApproval(ctx, "apr_nosuch"); !errors.Is(err, errs.ApprovalNotFound) {
			t.Fatalf("WaitApproval of an unknown id: %v", err)
		}

		// The kill switch, then revocation.
		if err := alice.Suspend(ctx, "bot", "runaway"); err != nil {
			t.Fatal(err)
		}
		dec, err = bot.Check(ctx, agenttrust.Request{Tool: "docs.read"})
		if dec.Allowed() || !errors.Is(err, agenttrust.ErrSuspended) {
			t.Fatalf("Check while suspended = %+v, %v", dec, err)
		}
		if err := alice.Resume(ctx, "bot"); err != nil {
			t.Fatal(err)
		}
		if err := alice.Resume(ctx, "bot"); !errors.Is(err, agenttrust.ErrNotFound) {
			t.Fatalf("second Resume: %v, want ErrNotFound", err)
		}
		if dec, err := bot.Check(ctx, agenttrust.Request{Tool: "docs.read"}); err != nil || !dec.Allowed() {
			t.Fatalf("Check after Resume = %+v, %v", dec, err)
		}
		if err := alice.RevokeKey(ctx, d.ids["bot"]); err != nil {
			t.Fatal(err)
		}
		dec, err = bot.Check(ctx, agenttrust.Request{Tool: "docs.read"})
		if dec.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
			t.Fatalf("Check after revocation = %+v, %v", dec, err)
		}
		// An admin checking for the agent sees the revocation as a decision.
		dec, err = alice.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: d.keys["bot"]})
		if dec.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
			t.Fatalf("admin Check of a revoked key = %+v, %v", dec, err)
		}
		blocks, err := alice.Blocks(ctx)
		if err != nil || len(blocks) != 1 || blocks[0].ID != d.ids["bot"] || blocks[0].Kind != store.Revoked {
			t.Fatalf("Blocks = %+v, %v", blocks, err)
		}
	})
}

func TestServerAdmin(t *testing.T) {
	d := deploy(t)
	ctx := t.Context()
	alice, bot := d.client(t, "alice"), d.client(t, "bot")

	p, err := alice.Whoami(ctx)
	if err != nil || p.Tenant != "acme" || p.AgentID != "alice" || !slices.Contains(p.Roles, store.RoleAdmin) {
		t.Fatalf("Whoami = %+v, %v", p, err)
	}
	if _, _, err := bot.CreateKey(ctx, agenttrust.KeySpec{AgentID: "x"}); !errors.Is(err, remote.ErrForbidden) {
		t.Fatalf("an agent creating a key: %v, want ErrForbidden", err)
	}
	secret, k, err := alice.CreateKey(ctx, agenttrust.KeySpec{AgentID: "worker", Name: "w", Caveats: []string{"tool in docs.*"}})
	if err != nil || k.AgentID != "worker" || k.Tenant != "acme" {
		t.Fatalf("CreateKey = %+v, %v", k, err)
	}
	keys, err := alice.ListKeys(ctx)
	if err != nil || len(keys) != 4 {
		t.Fatalf("ListKeys = %+v, %v", keys, err)
	}

	worker, err := remote.New(d.url, secret)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := worker.Exchange(ctx, "", "resource in doc/**")
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	info, err := worker.InspectToken(ctx, tok)
	if err != nil || info.KeyID != k.ID || info.AgentID != "worker" {
		t.Fatalf("InspectToken = %+v, %v", info, err)
	}
	narrow, hop, err := worker.Delegate(ctx, tok, time.Minute, "resource in doc/public/*")
	if err != nil || hop.ID == "" {
		t.Fatalf("Delegate = %+v, %v", hop, err)
	}
	dec, err := alice.Check(ctx, agenttrust.Request{Tool: "docs.read", Resource: "doc/public/1", Credential: narrow})
	if err != nil || !dec.Allowed() || dec.AgentID != "worker" {
		t.Fatalf("Check with the delegated token = %+v, %v", dec, err)
	}
	dec, err = alice.Check(ctx, agenttrust.Request{Tool: "docs.read", Resource: "doc/secret/1", Credential: narrow})
	if dec.Allowed() || !errors.Is(err, agenttrust.ErrCaveat) {
		t.Fatalf("Check outside the delegated token's caveat = %+v, %v", dec, err)
	}
	if err := alice.Revoke(ctx, hop.ID); err != nil {
		t.Fatal(err)
	}
	dec, err = alice.Check(ctx, agenttrust.Request{Tool: "docs.read", Resource: "doc/public/1", Credential: narrow})
	if dec.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
		t.Fatalf("Check with a revoked hop = %+v, %v", dec, err)
	}
	jwt, err := worker.ExchangeJWT(ctx, "", "https://mcp.example")
	if err != nil || jwt == "" {
		t.Fatalf("ExchangeJWT = %q, %v", jwt, err)
	}
	pubs, err := worker.PublicKeys(ctx)
	if err != nil || len(pubs) != 1 || len(pubs["sk1"]) != ed25519.PublicKeySize {
		t.Fatalf("PublicKeys = %+v, %v", pubs, err)
	}

	doc, err := alice.Policy(ctx)
	if err != nil || doc.Version != 1 || doc.Format != "json" || string(doc.Body) != acmePolicy {
		t.Fatalf("Policy = %+v, %v", doc, err)
	}
	if err := alice.ValidatePolicy(ctx, []byte(`{"rules":[{"id":"x","effect":"maybe"}]}`), "json"); !errors.Is(err, agenttrust.ErrInvalidPolicy) {
		t.Fatalf("ValidatePolicy of a bad policy: %v", err)
	}
	if err := alice.ValidatePolicy(ctx, []byte(acmePolicy), "json"); err != nil {
		t.Fatalf("ValidatePolicy: %v", err)
	}
	if _, err := alice.ApplyPolicy(ctx, []byte(acmePolicy), "json", 0); !errors.Is(err, remote.ErrConflict) {
		t.Fatalf("ApplyPolicy with a stale version: %v, want ErrConflict", err)
	}
	if v, err := alice.ApplyPolicy(ctx, []byte(`{"rules":[]}`), "json", 1); err != nil || v != 2 {
		t.Fatalf("ApplyPolicy = %d, %v", v, err)
	}
	if dec, err := bot.Check(ctx, agenttrust.Request{Tool: "docs.read"}); err != nil || dec.Allowed() {
		t.Fatalf("Check under the empty policy = %+v, %v", dec, err)
	}

	var all []agenttrust.AuditRecord
	for q := (&store.AuditQuery{Limit: 2}); q != nil; {
		recs, next, err := alice.QueryAudit(ctx, *q)
		if err != nil {
			t.Fatal(err)
		}
		all, q = append(all, recs...), next
	}
	if len(all) < 4 {
		t.Fatalf("QueryAudit found %d records", len(all))
	}
	if err := agenttrust.VerifyChain(all, testAuditKey); err != nil {
		t.Fatalf("VerifyChain of the queried records: %v", err)
	}
	report, err := alice.VerifyAudit(ctx, "")
	if err != nil || !report.OK || len(report.Chains) == 0 {
		t.Fatalf("VerifyAudit = %+v, %v", report, err)
	}
	h, err := bot.Health(ctx)
	if err != nil || h.Status != "ready" {
		t.Fatalf("Health = %+v, %v", h, err)
	}
}

// TestServerStoreAPI runs the store conformance suite on remote.NewStore
// through the real server's store API.
func TestServerStoreAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		// A store holding only the system tenant's key, which no case
		// sees: the suite's tenants are acme and globex.
		// The suite's concurrency cases put up to a thousand calls in
		// flight at once: on a loaded machine some wait longer than
		// DefaultTimeout for the server, which is not what they test.
		d := deployWith(t, false)
		st, err := remote.NewStore(d.url, d.keys["root"], remote.WithTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
	// Only the system tenant's admins reach the store API.
	d := deploy(t)
	st, err := remote.NewStore(d.url, d.keys["alice"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Keys(t.Context(), "acme"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("store API as a tenant's admin: %v, want ErrUnavailable", err)
	}
}

func TestServerPolicyEngineAndAuditSink(t *testing.T) {
	d := deploy(t)
	ctx := t.Context()
	engine, err := remote.NewPolicyEngine(d.url, d.keys["root"])
	if err != nil {
		t.Fatal(err)
	}
	sink, err := remote.NewAuditSink(d.url, d.keys["root"])
	if err != nil {
		t.Fatal(err)
	}
	local, err := agenttrust.New(memory.New(), agenttrust.WithTenant("acme"), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "edge-1/acme"}),
		agenttrust.WithPolicyEngine(engine), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	for _, tc := range []struct {
		tool   string
		effect agenttrust.Effect
		rule   string
	}{
		{"docs.read", agenttrust.Allow, "read"},
		{"docs.delete", agenttrust.Deny, "no-delete"},
		{"payments.charge", agenttrust.NeedsApproval, "pay"},
		{"other", agenttrust.Deny, ""},
	} {
		dec, err := local.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: tc.tool, Attributes: map[string]any{"amount": 7}})
		if err != nil || dec.Effect != tc.effect || dec.Rule != tc.rule {
			t.Fatalf("local Check %s with the remote engine = %+v, %v", tc.tool, dec, err)
		}
	}
	if err := local.SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	recs, _, err := d.client(t, "alice").QueryAudit(ctx, store.AuditQuery{Chain: "edge-1/acme"})
	if err != nil || len(recs) != 4 {
		t.Fatalf("records of the edge chain on the server = %d, %v", len(recs), err)
	}
	if head, err := sink.AuditHead(ctx, "edge-1/acme"); err != nil || head.Seq != 4 {
		t.Fatalf("AuditHead = %+v, %v", head, err)
	}
}

// TestServerStoreForLocalClient decides locally over state kept on the
// server: the policy stored there, and a revocation made there is in
// force for the local client's next check.
func TestServerStoreForLocalClient(t *testing.T) {
	d := deploy(t)
	ctx := t.Context()
	st, err := remote.NewStore(d.url, d.keys["root"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	local, err := agenttrust.New(st, agenttrust.WithTenant("acme"), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "edge-2/acme", Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	dec, err := local.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: d.keys["bot"]})
	if err != nil || !dec.Allowed() || dec.AgentID != "bot" || dec.Rule != "read" {
		t.Fatalf("local Check over the remote store = %+v, %v", dec, err)
	}
	if err := d.client(t, "alice").Suspend(ctx, "bot", "stop"); err != nil {
		t.Fatal(err)
	}
	dec, err = local.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: d.keys["bot"]})
	if dec.Allowed() {
		t.Fatalf("local Check after a suspension on the server = %+v, %v", dec, err)
	}
	if err := local.SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	recs, _, err := d.client(t, "alice").QueryAudit(ctx, store.AuditQuery{Chain: "edge-2/acme"})
	if err != nil || len(recs) != 2 || recs[1].Effect != agenttrust.Deny {
		t.Fatalf("the local client's audit on the server = %+v, %v", recs, err)
	}
}
