package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// dsnParts are what a PostgreSQL driver puts in a connection error: user,
// database, host and port. None may reach a response.
var dsnParts = []string{"leakuser", "leakdb", "db.internal.example", "6543", "10.9.8.7"}

// errOutage is a store error as a driver words it when the link is down.
var errOutage = fmt.Errorf("%w: failed to connect to `user=leakuser database=leakdb`: db.internal.example:6543 (10.9.8.7): dial error: connection refused", store.ErrUnavailable)

// outageStore is a store whose link can be cut: with down set, every
// method fails with errOutage; with dataDown set, every method but those
// authentication needs (key lookups, revocation lookups) does.
type outageStore struct {
	*memory.Store
	down, dataDown atomic.Bool
}

func (o *outageStore) fails(auth bool) bool {
	return o.down.Load() || !auth && o.dataDown.Load()
}

func (o *outageStore) Suspend(ctx context.Context, b store.Block) error {
	if o.fails(false) {
		return errOutage
	}
	return o.Store.Suspend(ctx, b)
}

func (o *outageStore) Resume(ctx context.Context, tenant, id string) error {
	if o.fails(false) {
		return errOutage
	}
	return o.Store.Resume(ctx, tenant, id)
}

func (o *outageStore) Revoke(ctx context.Context, b store.Block) error {
	if o.fails(false) {
		return errOutage
	}
	return o.Store.Revoke(ctx, b)
}

func (o *outageStore) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	if o.fails(true) {
		return store.Block{}, false, errOutage
	}
	return o.Store.Blocked(ctx, tenant, ids)
}

func (o *outageStore) Blocks(ctx context.Context, tenant string) ([]store.Block, error) {
	if o.fails(false) {
		return nil, errOutage
	}
	return o.Store.Blocks(ctx, tenant)
}

func (o *outageStore) CreateApproval(ctx context.Context, a store.Approval) error {
	if o.fails(false) {
		return errOutage
	}
	return o.Store.CreateApproval(ctx, a)
}

func (o *outageStore) Approval(ctx context.Context, tenant, id string) (store.Approval, error) {
	if o.fails(false) {
		return store.Approval{}, errOutage
	}
	return o.Store.Approval(ctx, tenant, id)
}

func (o *outageStore) Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	if o.fails(false) {
		return nil, errOutage
	}
	return o.Store.Approvals(ctx, f)
}

func (o *outageStore) DecideApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	if o.fails(false) {
		return store.Approval{}, errOutage
	}
	return o.Store.DecideApproval(ctx, tenant, id, d)
}

func (o *outageStore) ConsumeApproval(ctx context.Context, tenant, fp string, now time.Time) (store.Approval, error) {
	if o.fails(false) {
		return store.Approval{}, errOutage
	}
	return o.Store.ConsumeApproval(ctx, tenant, fp, now)
}

func (o *outageStore) PendingApproval(ctx context.Context, tenant, fp string, now time.Time) (store.Approval, error) {
	if o.fails(false) {
		return store.Approval{}, errOutage
	}
	return o.Store.PendingApproval(ctx, tenant, fp, now)
}

func (o *outageStore) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	if o.fails(false) {
		return store.PolicyDoc{}, errOutage
	}
	return o.Store.Policy(ctx, tenant)
}

func (o *outageStore) PutPolicy(ctx context.Context, doc store.PolicyDoc, v int64) (store.PolicyDoc, error) {
	if o.fails(false) {
		return store.PolicyDoc{}, errOutage
	}
	return o.Store.PutPolicy(ctx, doc, v)
}

func (o *outageStore) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	if o.fails(false) {
		return errOutage
	}
	return o.Store.AppendAudit(ctx, recs)
}

func (o *outageStore) AuditHead(ctx context.Context, chain string) (store.AuditRecord, error) {
	if o.fails(false) {
		return store.AuditRecord{}, errOutage
	}
	return o.Store.AuditHead(ctx, chain)
}

func (o *outageStore) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	if o.fails(false) {
		return nil, errOutage
	}
	return o.Store.QueryAudit(ctx, q)
}

func (o *outageStore) CreateKey(ctx context.Context, k store.Key) error {
	if o.fails(false) {
		return errOutage
	}
	return o.Store.CreateKey(ctx, k)
}

func (o *outageStore) KeyByHash(ctx context.Context, h [32]byte) (store.Key, error) {
	if o.fails(true) {
		return store.Key{}, errOutage
	}
	return o.Store.KeyByHash(ctx, h)
}

func (o *outageStore) Key(ctx context.Context, tenant, id string) (store.Key, error) {
	if o.fails(true) {
		return store.Key{}, errOutage
	}
	return o.Store.Key(ctx, tenant, id)
}

func (o *outageStore) Keys(ctx context.Context, tenant string) ([]store.Key, error) {
	if o.fails(false) {
		return nil, errOutage
	}
	return o.Store.Keys(ctx, tenant)
}

func (o *outageStore) CreateHop(ctx context.Context, h store.Hop) error {
	if o.fails(false) {
		return errOutage
	}
	return o.Store.CreateHop(ctx, h)
}

func (o *outageStore) Hops(ctx context.Context, f store.HopFilter) ([]store.Hop, error) {
	if o.fails(false) {
		return nil, errOutage
	}
	return o.Store.Hops(ctx, f)
}

// outageEnv is a server over an outageStore with an admin and an agent
// key in tenant "acme" and an admin in the system tenant "ops".
func outageEnv(t *testing.T, opts ...Option) (*env, *outageStore) {
	t.Helper()
	st := &outageStore{Store: memory.New()}
	base := []Option{WithNodeName("n1"), WithSystemTenant("ops"), WithClock(newTestClock().Now),
		WithClientOptions(testkit.Keys())}
	srv, err := New(st, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, st: st.Store, keys: map[string]string{}, ids: map[string]string{}}
	e.ts = httptest.NewServer(srv)
	t.Cleanup(func() {
		e.ts.Close()
		st.down.Store(false)
		st.dataDown.Store(false)
		srv.Close()
	})
	ctx := context.Background()
	e.createKey(ctx, "acme", "alice", agenttrust.KeySpec{AgentID: "alice", Roles: []string{store.RoleAdmin}})
	e.createKey(ctx, "acme", "bot", agenttrust.KeySpec{AgentID: "bot"})
	e.createKey(ctx, "ops", "root", agenttrust.KeySpec{AgentID: "root", Roles: []string{store.RoleAdmin}})
	c, err := srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SavePolicy(ctx, []byte(acmePolicy), "json", 0); err != nil {
		t.Fatal(err)
	}
	return e, st
}

func assertNoDSN(t *testing.T, what string, body []byte) {
	t.Helper()
	for _, p := range dsnParts {
		if strings.Contains(string(body), p) {
			t.Errorf("%s: the response shows %q: %s", what, p, body)
			return
		}
	}
}

// TestAttackErrorLeak: while the store is down, no response, to anyone,
// holds what the driver's error says about the database (user, name,
// host, port): the caller gets a code and a generic message, the log the
// detail. internal/attack's TestAttackErrorLeakPostgres cuts a real
// PostgreSQL link.
func TestAttackErrorLeak(t *testing.T) {
	type request struct {
		method, path string
		cred         string // "alice", "bot", "root" or "" for none
		body         any
	}
	for _, tc := range []struct {
		name     string
		dataOnly bool // the store fails all but authentication
		req      request
		status   int
		code     string
	}{
		{"readyz unauthenticated", false, request{"GET", "/readyz", "", nil}, 503, ""},
		{"bearer key unauthenticated lookup", false, request{"GET", "/v1/keys", "alice", nil}, 503, "store_unavailable"},
		{"bearer key on check", false, request{"POST", "/v1/actions/check", "bot", map[string]any{"tool_name": "docs.read"}}, 503, "store_unavailable"},
		{"unknown key lookup", false, request{"GET", "/v1/whoami", "unknown", nil}, 503, "store_unavailable"},
		{"check decision", true, request{"POST", "/v1/actions/check", "bot", map[string]any{"tool_name": "payments.charge"}}, 200, ""},
		{"list keys", true, request{"GET", "/v1/keys", "alice", nil}, 503, "store_unavailable"},
		{"create key", true, request{"POST", "/v1/keys", "alice", map[string]any{"agent_id": "x"}}, 503, "store_unavailable"},
		{"revoke", true, request{"POST", "/v1/revocations", "alice", map[string]any{"id": "tok_x"}}, 503, "store_unavailable"},
		{"list revocations", true, request{"GET", "/v1/revocations", "alice", nil}, 503, "store_unavailable"},
		{"suspend", true, request{"POST", "/v1/agents/bot/suspend", "alice", nil}, 503, "store_unavailable"},
		{"list approvals", true, request{"GET", "/v1/approvals", "alice", nil}, 503, "store_unavailable"},
		{"get approval", true, request{"GET", "/v1/approvals/apr_x", "alice", nil}, 503, "store_unavailable"},
		{"approve", true, request{"POST", "/v1/approvals/apr_x/approve", "alice", nil}, 503, "store_unavailable"},
		{"audit query", true, request{"GET", "/v1/audit", "alice", nil}, 503, "store_unavailable"},
		{"audit verify", true, request{"GET", "/v1/audit/verify", "alice", nil}, 503, "store_unavailable"},
		{"get policy", true, request{"GET", "/v1/policy", "alice", nil}, 503, "store_unavailable"},
		{"put policy", true, request{"PUT", "/v1/policy", "alice", map[string]any{"body": `{"rules":[]}`, "format": "json", "expect_version": 0}}, 503, "store_unavailable"},
		{"delegate", true, request{"POST", "/v1/tokens/delegate", "bottoken", map[string]any{"caveats": []string{"tool in docs.read"}}}, 503, "store_unavailable"},
		{"token bearer", false, request{"GET", "/v1/approvals", "bottoken", nil}, 503, "store_unavailable"},
		{"tenant bootstrap", true, request{"POST", "/v1/tenants/newco/keys", "root", map[string]any{"agent_id": "boss"}}, 503, "store_unavailable"},
		{"readyz store down for data", true, request{"GET", "/readyz", "", nil}, 503, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, st := outageEnv(t)
			cred := ""
			switch tc.req.cred {
			case "alice", "bot":
				cred = e.key("acme/" + tc.req.cred)
			case "root":
				cred = e.key("ops/root")
			case "bottoken":
				cred = e.exchange(e.key("acme/bot"))
			case "unknown":
				k, err := apikey.Generate(nil)
				if err != nil {
					t.Fatal(err)
				}
				cred = k
			}
			if tc.dataOnly {
				st.dataDown.Store(true)
			} else {
				st.down.Store(true)
			}
			r := e.do(tc.req.method, tc.req.path, cred, tc.req.body)
			assertNoDSN(t, tc.name, r.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			switch {
			case tc.code != "":
				if got := r.code(t); got != tc.code {
					t.Errorf("code %q, want %q", got, tc.code)
				}
			case tc.req.path == "/v1/actions/check":
				m := r.json(t)
				if m["effect"] != "deny" || m["allowed"] != false || m["error"] != "store_unavailable" {
					t.Errorf("check with the store down: %s", r.body)
				}
			default:
				if m := r.json(t); m["store"] != "store_unavailable" {
					t.Errorf("readyz: %s", r.body)
				}
			}
		})
	}
}
