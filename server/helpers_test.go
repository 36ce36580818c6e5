package server

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/memnet"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// t0 is the test clock's start.
var t0 = testkit.T0

// testClock is the shared clock tests move by hand (internal/testkit).
type testClock = testkit.Clock

func newTestClock() *testClock { return testkit.NewClock() }

const acmePolicy = `{"rules":[
 {"id":"read","effect":"allow","tools":["docs.read"]},
 {"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"payments need a human"},
 {"id":"no-delete","effect":"deny","tools":["docs.delete"],"reason":"never"}
]}`

// env is a server over a memory store with three tenants: "ops" (the
// system tenant), "acme" and "globex", each with keys for its roles.
type env struct {
	t     testing.TB
	st    *memory.Store
	srv   *Server
	ts    *httptest.Server
	clock *testClock
	keys  map[string]string // "tenant/agent" -> API key secret
	ids   map[string]string // "tenant/agent" -> key id
	rand  *testkit.Random   // for the fixture's keys
}

var testMasterKey = testkit.MasterKey()

var testAuditKey, _ = agenttrust.NewAuditKey(bytes.Repeat([]byte("a"), 32))

var testSigningKey = testkit.SigningKey()

func newEnv(t testing.TB, opts ...Option) *env {
	t.Helper()
	return newEnvOn(t, nil, opts...)
}

// newBubbleEnv is newEnv on an in-process network, for tests that run in
// a testing/synctest bubble so that waits (long polls, audit polls, idle
// tenants) pass on the bubble's clock instead of the real one.
func newBubbleEnv(t testing.TB, opts ...Option) *env {
	t.Helper()
	l, err := memnet.Listen("127.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, l, opts...)
}

// newEnvOn serves on l, or on a loopback TCP port when l is nil.
func newEnvOn(t testing.TB, l *memnet.Listener, opts ...Option) *env {
	t.Helper()
	e := &env{t: t, st: memory.New(), clock: newTestClock(), keys: map[string]string{}, ids: map[string]string{}, rand: testkit.NewRandom()}
	base := []Option{
		WithNodeName("n1"),
		WithSystemTenant("ops"),
		WithClock(e.clock.Now),
		WithAuditKey(testAuditKey),
		WithClientOptions(testkit.Keys()),
	}
	srv, err := New(e.st, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	if l == nil {
		e.ts = httptest.NewServer(srv)
	} else {
		e.ts = httptest.NewUnstartedServer(srv)
		e.ts.Listener.Close()
		e.ts.Listener = l
		e.ts.Start()
		e.ts.Client().Transport.(*http.Transport).DialContext = l.DialContext
	}
	t.Cleanup(func() {
		e.ts.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ctx := context.Background()
	for _, k := range []struct {
		tenant, agent string
		roles         []string
	}{
		{"ops", "root", []string{"admin"}},
		{"ops", "scraper", []string{"approver"}},
		{"acme", "alice", []string{"admin"}},
		{"acme", "bot", []string{"agent"}},
		{"acme", "bot2", []string{"agent"}},
		{"acme", "carol", []string{"approver"}},
		{"acme", "selfish", []string{"agent", "approver"}},
		{"globex", "gadmin", []string{"admin"}},
		{"globex", "gbot", []string{"agent"}},
	} {
		e.seedKey(ctx, k.tenant, k.agent, k.roles)
	}
	for _, tn := range []string{"acme", "globex"} {
		if _, err := e.st.PutPolicy(ctx, store.PolicyDoc{Tenant: tn, Format: "json", Body: []byte(acmePolicy), UpdatedAt: e.clock.Now()}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, tn := range []string{"ops", "acme", "globex"} {
		if _, err := srv.Client(ctx, tn); err != nil { // open the tenants, as a server in use has them
			t.Fatal(err)
		}
	}
	return e
}

// seedKey writes a key of the fixture straight to the store, as an
// operator's earlier work would have: the tenants' audit chains start
// with what the test does, not with the fixture's operator records.
func (e *env) seedKey(ctx context.Context, tenant, agent string, roles []string) {
	e.t.Helper()
	secret, err := apikey.Generate(e.rand)
	if err != nil {
		e.t.Fatal(err)
	}
	h := apikey.Hash(secret)
	id := "key_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:16]))
	k := store.Key{ID: id, Tenant: tenant, AgentID: agent, Hash: h, Roles: roles, CreatedAt: e.clock.Now()}
	if err := e.st.CreateKey(ctx, k); err != nil {
		e.t.Fatal(err)
	}
	e.keys[tenant+"/"+agent], e.ids[tenant+"/"+agent] = secret, id
}

// dial opens a raw connection to the server, over whichever network it
// serves on.
func (e *env) dial() (net.Conn, error) {
	if l, ok := e.ts.Listener.(*memnet.Listener); ok {
		return l.DialContext(context.Background(), "tcp", "")
	}
	return net.Dial("tcp", e.ts.Listener.Addr().String())
}

func (e *env) createKey(ctx context.Context, tenant, name string, spec agenttrust.KeySpec) string {
	e.t.Helper()
	c, err := e.srv.Client(ctx, tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	secret, k, err := c.CreateKey(ctx, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	e.keys[tenant+"/"+name], e.ids[tenant+"/"+name] = secret, k.ID
	return secret
}

// resp is a response read in full.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// code returns the error code of an error response.
func (r resp) code(t testing.TB) string {
	t.Helper()
	m := r.json(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("response %d has no error object: %s", r.status, r.body)
	}
	return e["code"].(string)
}

// do sends a request with cred as the bearer (none when empty) and body
// (a string sent as is, anything else marshalled).
func (e *env) do(method, path, cred string, body any, hdr ...string) resp {
	e.t.Helper()
	req := testkit.JSONRequest(e.t, method, e.ts.URL+path, cred, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, b := testkit.Send(e.t, e.ts.Client(), req)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// must is do, failing the test unless the status is want.
func (e *env) must(want int, method, path, cred string, body any) resp {
	e.t.Helper()
	r := e.do(method, path, cred, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

func (e *env) key(name string) string {
	e.t.Helper()
	k, ok := e.keys[name]
	if !ok {
		e.t.Fatalf("no key %q", name)
	}
	return k
}

// check makes a check as cred and returns the decoded response.
func (e *env) check(cred string, body map[string]any) map[string]any {
	e.t.Helper()
	return e.must(200, "POST", "/v1/actions/check", cred, body).json(e.t)
}

// exchange trades an API key for a token.
func (e *env) exchange(apiKey string, caveats ...string) string {
	e.t.Helper()
	body := map[string]any{}
	if len(caveats) > 0 {
		body["caveats"] = caveats
	}
	return e.must(201, "POST", "/v1/tokens", apiKey, body).json(e.t)["token"].(string)
}

// sync waits until every open tenant's audit is written.
func (e *env) sync() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tn := range []string{"ops", "acme", "globex"} {
		c, err := e.srv.Client(ctx, tn)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := c.SyncAudit(ctx); err != nil {
			e.t.Fatal(err)
		}
	}
}

func newMemoryStore() *memory.Store { return memory.New() }

// defaultTokenTTL is the lifetime of a token agenttrust mints unless
// configured otherwise.
const defaultTokenTTL = 5 * time.Minute

// maxDelegationDepth is the most hops agenttrust lets a token pass
// through.
const maxDelegationDepth = 8

// sinkFunc adapts a function to agenttrust.AuditSink.
type sinkFunc func(ctx context.Context, recs []agenttrust.AuditRecord) error

func (f sinkFunc) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	return f(ctx, recs)
}
