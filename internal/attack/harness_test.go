package attack

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/postgres"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// t0 is where every test clock starts.
var t0 = testkit.T0

// clock is the shared clock the tests move by hand (internal/testkit):
// nothing here sleeps on the real one.
type clock = testkit.Clock

func newClock() *clock { return testkit.NewClock() }

// Secrets of the system under attack, known to the tests so they can
// mint what a legitimate node mints; the attacks never use them unless a
// case says so.
func masterKey() agenttrust.SecretKey  { return testkit.MasterKey() }
func signingKey() agenttrust.SecretKey { return testkit.SigningKey() }

// attackerSigningKey is an Ed25519 key the system does not know.
func attackerSigningKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte("a"), 32))
}

// backend opens a fresh store of one kind, closed when the test ends.
type backend struct {
	name string
	open func(t *testing.T) store.Store
}

const pgEnv = "AGENTTRUST_TEST_POSTGRES"

func backends() []backend {
	return []backend{
		{"memory", func(t *testing.T) store.Store {
			st := memory.New()
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"sqlite", func(t *testing.T) store.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "attack.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres", func(t *testing.T) store.Store {
			return openPostgres(t, pgURL(t))
		}},
	}
}

// eachBackend runs fn once per backend, as subtests named after it.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// pgURL returns the URL of the test database, or skips t.
func pgURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv(pgEnv)
	if u == "" {
		t.Skipf("PostgreSQL cases skipped: set %s to a database URL, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable", pgEnv)
	}
	return u
}

// openPostgres opens a store on a fresh schema of the database at url
// (which may go through a fault proxy); the schema is dropped at the end.
func openPostgres(t *testing.T, dbURL string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "agenttrust_attack_" + hex.EncodeToString(b[:])
	direct := os.Getenv(pgEnv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, direct)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	// The database is shared with the rest of CI: under the race
	// detector's load a connection can outlast the store's connect
	// timeout, so an unavailable store is tried again, twice.
	var st *postgres.Store
	var err error
	for attempt := 1; ; attempt++ {
		st, err = postgres.Open(context.Background(), dbURL, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
		if err == nil || attempt == 3 || !errors.Is(err, store.ErrUnavailable) {
			break
		}
		t.Logf("open PostgreSQL, attempt %d: %v", attempt, err)
	}
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// viaProxy returns the database URL with its host replaced by addr.
func viaProxy(t *testing.T, raw, addr string) (target, proxied string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" || strings.Contains(u.Host, ",") {
		t.Skipf("the link-cut case needs %s as a postgres:// URL with one host:port", pgEnv)
	}
	target = u.Host
	if u.Port() == "" {
		target += ":5432"
	}
	u.Host = addr
	return target, u.String()
}

// faultyStore wraps a store and fails, while down, every method on the
// path of a check or an authentication, as a store that lost its
// database does. It does not pass on store.Watcher, so a client in notify
// mode polls it.
type faultyStore struct {
	store.Store
	down          atomic.Bool
	approvalsDown atomic.Bool // only the approval methods fail
}

func (f *faultyStore) fail(op string) error {
	if f.down.Load() || f.approvalsDown.Load() && strings.Contains(op, "approval") {
		return fmt.Errorf("attack: %s: database gone: %w", op, store.ErrUnavailable)
	}
	return nil
}

func (f *faultyStore) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	if err := f.fail("blocked"); err != nil {
		return store.Block{}, false, err
	}
	return f.Store.Blocked(ctx, tenant, ids)
}

func (f *faultyStore) Blocks(ctx context.Context, tenant string) ([]store.Block, error) {
	if err := f.fail("blocks"); err != nil {
		return nil, err
	}
	return f.Store.Blocks(ctx, tenant)
}

func (f *faultyStore) KeyByHash(ctx context.Context, h [32]byte) (store.Key, error) {
	if err := f.fail("key by hash"); err != nil {
		return store.Key{}, err
	}
	return f.Store.KeyByHash(ctx, h)
}

func (f *faultyStore) Key(ctx context.Context, tenant, id string) (store.Key, error) {
	if err := f.fail("key"); err != nil {
		return store.Key{}, err
	}
	return f.Store.Key(ctx, tenant, id)
}

func (f *faultyStore) CreateApproval(ctx context.Context, a store.Approval) error {
	if err := f.fail("create approval"); err != nil {
		return err
	}
	return f.Store.CreateApproval(ctx, a)
}

func (f *faultyStore) PendingApproval(ctx context.Context, tenant, fp string, now time.Time) (store.Approval, error) {
	if err := f.fail("pending approval"); err != nil {
		return store.Approval{}, err
	}
	return f.Store.PendingApproval(ctx, tenant, fp, now)
}

func (f *faultyStore) ConsumeApproval(ctx context.Context, tenant, fp string, now time.Time) (store.Approval, error) {
	if err := f.fail("consume approval"); err != nil {
		return store.Approval{}, err
	}
	return f.Store.ConsumeApproval(ctx, tenant, fp, now)
}

func (f *faultyStore) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	if err := f.fail("policy"); err != nil {
		return store.PolicyDoc{}, err
	}
	return f.Store.Policy(ctx, tenant)
}

// libPolicy is the policy of the library tests: reads and small charges
// are allowed, refunds need approval, deletes are denied.
const libPolicy = `
rules:
  - id: read
    effect: allow
    tools: [docs.read, calendar.read, mail.read, payments.charge]
  - id: refund
    effect: needs_approval
    tools: [payments.refund]
  - id: no-delete
    effect: deny
    tools: [docs.delete]
`

// newClient returns a client of tenant over st with the fixed secrets,
// the given clock and libPolicy, closed when the test ends.
func newClient(t *testing.T, st store.Store, clk interface{ Now() time.Time }, tenant string, opts ...agenttrust.Option) *agenttrust.Client {
	t.Helper()
	return newClientWith(t, st, clk, tenant, masterKey(), opts...)
}

// newClientWith is newClient with the given master key.
func newClientWith(t *testing.T, st store.Store, clk interface{ Now() time.Time }, tenant string, mk agenttrust.SecretKey, opts ...agenttrust.Option) *agenttrust.Client {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(libPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := []agenttrust.Option{
		agenttrust.WithTenant(tenant), agenttrust.WithClock(clk.Now), agenttrust.WithPolicy(p),
		agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{mk}}), agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{signingKey()}}),
	}
	c, err := agenttrust.New(st, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// createKey makes a key and returns its secret and record.
func createKey(t *testing.T, c *agenttrust.Client, spec agenttrust.KeySpec) (string, agenttrust.Key) {
	t.Helper()
	secret, k, err := c.CreateKey(context.Background(), spec)
	if err != nil {
		t.Fatalf("CreateKey %+v: %v", spec, err)
	}
	return secret, k
}

func exchange(t *testing.T, c *agenttrust.Client, key string, caveats ...string) string {
	t.Helper()
	tok, err := c.Exchange(context.Background(), key, caveats...)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}

func attenuate(t *testing.T, tok string, caveats ...string) string {
	t.Helper()
	out, err := agenttrust.Attenuate(tok, caveats...)
	if err != nil {
		t.Fatalf("Attenuate %q: %v", caveats, err)
	}
	return out
}

// denied fails t unless d is a Deny and err matches want.
func denied(t *testing.T, d agenttrust.Decision, err, want error) {
	t.Helper()
	if d.Allowed() || d.Effect != agenttrust.Deny {
		t.Errorf("decision %v (%q), want deny", d.Effect, d.Reason)
	}
	if !errors.Is(err, want) {
		t.Errorf("error %v, want one matching %v", err, want)
	}
}

// allowed fails t unless d allows without error: the control that shows
// a case's credential or request works before the attack changes it.
func allowed(t *testing.T, d agenttrust.Decision, err error) {
	t.Helper()
	if err != nil || !d.Allowed() {
		t.Fatalf("control: decision %v (%q), error %v, want allow", d.Effect, d.Reason, err)
	}
}

// macParts is a V2 binary macaroon taken apart, for surgery.
type macParts struct {
	loc  []byte
	id   []byte
	cavs [][]byte
	vids [][]byte // verification id per caveat; nil for first-party ones
	sig  []byte
}

// splitToken decodes an att_ token into its parts.
func splitToken(t *testing.T, tok string) macParts {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, agenttrust.TokenPrefix))
	if err != nil {
		t.Fatalf("decode token: %v", err)
	}
	m, err := parseMac(raw)
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	return m
}

func parseMac(b []byte) (macParts, error) {
	var m macParts
	if len(b) == 0 || b[0] != 2 {
		return m, errors.New("not a V2 macaroon")
	}
	p := 1
	field := func() (int, []byte, error) {
		if p >= len(b) {
			return 0, nil, io.ErrUnexpectedEOF
		}
		ft := int(b[p])
		p++
		if ft == 0 {
			return 0, nil, nil
		}
		n, k := binary.Uvarint(b[p:])
		if k <= 0 || p+k+int(n) > len(b) {
			return 0, nil, io.ErrUnexpectedEOF
		}
		p += k
		d := append([]byte(nil), b[p:p+int(n)]...)
		p += int(n)
		return ft, d, nil
	}
	for {
		ft, d, err := field()
		if err != nil {
			return m, err
		}
		if ft == 0 {
			break
		}
		switch ft {
		case 1:
			m.loc = d
		case 2:
			m.id = d
		}
	}
	for {
		ft, d, err := field()
		if err != nil {
			return m, err
		}
		if ft == 0 {
			break
		}
		var cid, vid []byte
		for ft != 0 {
			switch ft {
			case 2:
				cid = d
			case 4:
				vid = d
			}
			if ft, d, err = field(); err != nil {
				return m, err
			}
		}
		m.cavs = append(m.cavs, cid)
		m.vids = append(m.vids, vid)
	}
	_, d, err := field()
	m.sig = d
	return m, err
}

func (m macParts) encode() []byte {
	b := []byte{2}
	pkt := func(ft byte, d []byte) {
		b = append(b, ft)
		b = binary.AppendUvarint(b, uint64(len(d)))
		b = append(b, d...)
	}
	if len(m.loc) > 0 {
		pkt(1, m.loc)
	}
	pkt(2, m.id)
	b = append(b, 0)
	for i, c := range m.cavs {
		pkt(2, c)
		if i < len(m.vids) && m.vids[i] != nil {
			pkt(4, m.vids[i])
		}
		b = append(b, 0)
	}
	b = append(b, 0)
	pkt(6, m.sig)
	return b
}

func (m macParts) token() string {
	return agenttrust.TokenPrefix + base64.RawURLEncoding.EncodeToString(m.encode())
}

// clone returns a deep copy, so a case's surgery leaves the original.
func (m macParts) clone() macParts {
	c := macParts{loc: bytes.Clone(m.loc), id: bytes.Clone(m.id), sig: bytes.Clone(m.sig)}
	for i := range m.cavs {
		c.cavs = append(c.cavs, bytes.Clone(m.cavs[i]))
		c.vids = append(c.vids, bytes.Clone(m.vids[i]))
	}
	return c
}

// caveatIndex returns the index of the first caveat starting with prefix.
func (m macParts) caveatIndex(t *testing.T, prefix string) int {
	t.Helper()
	for i, c := range m.cavs {
		if strings.HasPrefix(string(c), prefix) {
			return i
		}
	}
	t.Fatalf("no caveat starting with %q in %q", prefix, m.cavs)
	return -1
}

// node is `agenttrust serve` in a test: the server package over a store,
// behind httptest, with tenants "ops" (the system tenant), "acme" and
// "globex" and keys for their roles.
type node struct {
	t     *testing.T
	st    store.Store
	srv   *server.Server
	ts    *httptest.Server
	clock *clock
	keys  map[string]string // "tenant/agent" -> API key secret
	ids   map[string]string // "tenant/agent" -> key id
}

const nodePolicy = `{"rules":[
 {"id":"read","effect":"allow","tools":["docs.read","calendar.read"]},
 {"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"payments need a human"},
 {"id":"no-delete","effect":"deny","tools":["docs.delete"],"reason":"never"}
]}`

func newNode(t *testing.T, st store.Store, opts ...server.Option) *node {
	t.Helper()
	n := &node{t: t, st: st, clock: newClock(), keys: map[string]string{}, ids: map[string]string{}}
	base := []server.Option{
		server.WithNodeName("n1"),
		server.WithSystemTenant("ops"),
		server.WithClock(n.clock.Now),
		server.WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{masterKey()}}), agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{signingKey()}})),
	}
	srv, err := server.New(st, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	n.srv = srv
	n.ts = httptest.NewServer(srv)
	t.Cleanup(func() {
		n.ts.Close()
		srv.Close()
	})
	for _, k := range []struct {
		tenant, agent string
		roles         []string
	}{
		{"ops", "root", []string{"admin"}},
		{"acme", "alice", []string{"admin"}},
		{"acme", "bot", []string{"agent"}},
		{"acme", "bot2", []string{"agent"}},
		{"acme", "carol", []string{"approver"}},
		{"acme", "selfish", []string{"agent", "approver"}},
		{"globex", "gadmin", []string{"admin"}},
		{"globex", "gbot", []string{"agent"}},
	} {
		n.createKey(k.tenant, k.agent, agenttrust.KeySpec{AgentID: k.agent, Roles: k.roles})
	}
	for _, tn := range []string{"acme", "globex"} {
		if _, err := n.client(tn).SavePolicy(context.Background(), []byte(nodePolicy), "json", 0); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func (n *node) client(tenant string) *agenttrust.Client {
	n.t.Helper()
	c, err := n.srv.Client(context.Background(), tenant)
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

func (n *node) createKey(tenant, name string, spec agenttrust.KeySpec) string {
	n.t.Helper()
	secret, k := createKey(n.t, n.client(tenant), spec)
	n.keys[tenant+"/"+name], n.ids[tenant+"/"+name] = secret, k.ID
	return secret
}

func (n *node) key(name string) string {
	n.t.Helper()
	k, ok := n.keys[name]
	if !ok {
		n.t.Fatalf("no key %q", name)
	}
	return k
}

// reply is a response read in full.
type reply struct {
	status int
	body   []byte
}

// code returns the error code of an error response, "" if there is none.
func (r reply) code() string {
	var m struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &m)
	return m.Error.Code
}

func (r reply) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// do sends a request with cred as the bearer (none when empty) and body
// (a string sent as is, anything else marshalled); hdr are extra header
// name, value pairs.
func (n *node) do(method, path, cred string, body any, hdr ...string) reply {
	n.t.Helper()
	return n.sendWith(method, path, cred, body, hdr, nil)
}

func (n *node) send(method, path, cred string, body any, replace []string) reply {
	n.t.Helper()
	return n.sendWith(method, path, cred, body, nil, replace)
}

func (n *node) sendWith(method, path, cred string, body any, hdr, replace []string) reply {
	n.t.Helper()
	req := testkit.JSONRequest(n.t, method, n.ts.URL+path, cred, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	for i := 0; i+1 < len(replace); i += 2 {
		req.Header.Set(replace[i], replace[i+1])
	}
	res, b := testkit.Send(n.t, n.ts.Client(), req)
	return reply{status: res.StatusCode, body: b}
}

// doReplacing is do with hdr replacing, not adding to, the headers do
// sets.
func (n *node) doReplacing(method, path, cred string, body any, hdr ...string) reply {
	n.t.Helper()
	var set []string
	for i := 0; i+1 < len(hdr); i += 2 {
		set = append(set, hdr[i], hdr[i+1])
	}
	return n.send(method, path, cred, body, set)
}

// must is do, failing the test unless the status is want.
func (n *node) must(want int, method, path, cred string, body any) reply {
	n.t.Helper()
	r := n.do(method, path, cred, body)
	if r.status != want {
		n.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// exchange trades an API key for a macaroon token over the API.
func (n *node) exchange(apiKey string, caveats ...string) string {
	n.t.Helper()
	body := map[string]any{}
	if len(caveats) > 0 {
		body["caveats"] = caveats
	}
	return n.must(201, "POST", "/v1/tokens", apiKey, body).object(n.t)["token"].(string)
}

// exchangeJWT trades an API key for a JWT the node itself accepts.
func (n *node) exchangeJWT(apiKey string) string {
	n.t.Helper()
	return n.must(201, "POST", "/v1/tokens", apiKey, map[string]any{"format": "jwt", "audience": "agenttrust"}).object(n.t)["token"].(string)
}

// pending makes cred ask for a charge, which needs approval, and returns
// the approval id.
func (n *node) pending(cred string) string {
	n.t.Helper()
	d := n.must(200, "POST", "/v1/actions/check", cred, map[string]any{"tool_name": "payments.charge", "resource": "cust-1", "attributes": map[string]any{"amount": 90}}).object(n.t)
	if d["effect"] != "needs_approval" {
		n.t.Fatalf("check: %v", d)
	}
	return d["approval_id"].(string)
}

// wantError fails t unless r has the status and error code.
func wantError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Errorf("status %d code %q, want %d %q: %s", r.status, r.code(), status, code, r.body)
	}
}

// wantDeny fails t unless r is a check answered 200 with a deny whose
// error code is code.
func wantDeny(t *testing.T, r reply, code string) {
	t.Helper()
	if r.status != 200 {
		t.Errorf("status %d, want 200 with a deny: %s", r.status, r.body)
		return
	}
	m := r.object(t)
	if m["effect"] != "deny" || m["allowed"] != false || m["error"] != code {
		t.Errorf("decision %v, want deny with error %q", m, code)
	}
}

func b64(raw []byte) string { return base64.RawURLEncoding.EncodeToString(raw) }

// sink is an audit sink the tests switch: it writes, fails, or hangs
// until released, and reports each call on calls.
type sink struct {
	mode    atomic.Int32 // sinkOK, sinkFail, sinkHang
	calls   chan struct{}
	release chan struct{}
	once    sync.Once
}

const (
	sinkOK = iota
	sinkFail
	sinkHang
)

func newSink() *sink {
	return &sink{calls: make(chan struct{}, 1024), release: make(chan struct{})}
}

// heal makes the sink write again and releases hung writes, so the
// client using it can close: defer it before the client's cleanup runs.
func (s *sink) heal() {
	s.mode.Store(sinkOK)
	s.once.Do(func() { close(s.release) })
}

func (s *sink) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	mode := s.mode.Load()
	select {
	case s.calls <- struct{}{}:
	default:
	}
	switch mode {
	case sinkFail:
		return errors.New("attack: audit sink down")
	case sinkHang:
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// waitCalls waits until the sink has been called n more times.
func (s *sink) waitCalls(t *testing.T, n int) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for range n {
		select {
		case <-s.calls:
		case <-timeout.C:
			t.Fatal("audit sink not called within 30s")
		}
	}
}

// drain forgets the calls reported so far.
func (s *sink) drain() {
	for {
		select {
		case <-s.calls:
		default:
			return
		}
	}
}

// Limits of package agenttrust the attacks probe: documented there, not
// exported.
const (
	defaultTokenTTL    = 5 * time.Minute // a token's lifetime unless configured
	maxAttributes      = 64              // attributes a request may carry
	maxDelegationDepth = 8               // hops a token may pass through
)
