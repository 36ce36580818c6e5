package server

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// gateStore is a memory store whose reads of one tenant's policy, which
// opening that tenant's Client makes, hang until the gate opens: a
// store that is slow, or hung, for one tenant.
type gateStore struct {
	*memory.Store
	slow    string
	entered chan struct{} // closed when a read of slow's policy is waiting
	gate    chan struct{} // closed to let such reads go on
	once    sync.Once
}

func (g *gateStore) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	if tenant == g.slow {
		g.once.Do(func() { close(g.entered) })
		<-g.gate
	}
	return g.Store.Policy(ctx, tenant)
}

// TestAttackSlowTenantOpenStallsOthers: a request naming a tenant whose
// Client is not open yet (a real key of it, a forged JWT claiming it, or
// the host opening it) meets a store that hangs on that tenant. Every
// other tenant still opens and answers, and the hung tenant's own
// callers give up when their request ends (503 store_unavailable) rather
// than wait for the store with it.
func TestAttackSlowTenantOpenStallsOthers(t *testing.T) {
	triggers := []struct {
		name string
		run  func(srv *Server, keys map[string]string)
	}{
		{"api_key", func(srv *Server, keys map[string]string) {
			sendTo(srv, context.Background(), "POST", "/v1/actions/check", keys["slow"], `{"tool_name":"docs.read"}`)
		}},
		{"forged_jwt", func(srv *Server, _ map[string]string) {
			seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
			jwt := seg(`{"alg":"EdDSA","typ":"JWT","kid":"k"}`) + "." +
				seg(`{"sub":"bot","tenant":"slow","exp":4102444800,"jti":"tok_x","key":"key_x"}`) + "." + seg("forged")
			sendTo(srv, context.Background(), "GET", "/v1/whoami", jwt, "")
		}},
		{"host_client", func(srv *Server, _ map[string]string) {
			srv.Client(context.Background(), "slow")
		}},
	}
	victims := []struct {
		name       string
		run        func(srv *Server, keys map[string]string) *httptest.ResponseRecorder
		wantStatus int
		wantCode   string
	}{
		{"other_tenant_check", func(srv *Server, keys map[string]string) *httptest.ResponseRecorder {
			return sendTo(srv, context.Background(), "POST", "/v1/actions/check", keys["acme"], `{"tool_name":"docs.read"}`)
		}, http.StatusOK, ""},
		{"same_tenant_request_ends", func(srv *Server, keys map[string]string) *httptest.ResponseRecorder {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			return sendTo(srv, ctx, "GET", "/v1/whoami", keys["slow"], "")
		}, http.StatusServiceUnavailable, "store_unavailable"},
	}
	for _, tr := range triggers {
		for _, v := range victims {
			t.Run(tr.name+"/"+v.name, func(t *testing.T) {
				g := &gateStore{Store: memory.New(), slow: "slow", entered: make(chan struct{}), gate: make(chan struct{})}
				srv, err := New(g, WithNodeName("n1"), WithSystemTenant("ops"), WithAuditKey(testAuditKey), WithClientOptions(testkit.Keys()))
				if err != nil {
					t.Fatal(err)
				}
				keys := map[string]string{}
				e := &env{t: t, st: g.Store, clock: newTestClock(), keys: keys, ids: map[string]string{}, rand: testkit.NewRandom()}
				ctx := context.Background()
				e.seedKey(ctx, "slow", "bot", []string{"agent"})
				e.seedKey(ctx, "acme", "bot", []string{"agent"})
				keys["slow"], keys["acme"] = keys["slow/bot"], keys["acme/bot"]
				if _, err := g.PutPolicy(ctx, store.PolicyDoc{Tenant: "acme", Format: "json", Body: []byte(acmePolicy), UpdatedAt: t0}, 0); err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				t.Cleanup(func() {
					close(g.gate)
					wg.Wait()
					srv.Close()
				})
				wg.Go(func() { tr.run(srv, keys) })
				select {
				case <-g.entered:
				case <-time.After(5 * time.Second):
					t.Fatal("the slow tenant's open never reached the store")
				}
				got := make(chan *httptest.ResponseRecorder, 1)
				wg.Go(func() { got <- v.run(srv, keys) })
				select {
				case rec := <-got:
					if rec.Code != v.wantStatus {
						t.Fatalf("status %d, want %d: %s", rec.Code, v.wantStatus, rec.Body)
					}
					if v.wantCode != "" && !strings.Contains(rec.Body.String(), `"code":"`+v.wantCode+`"`) {
						t.Fatalf("want error code %s: %s", v.wantCode, rec.Body)
					}
					if v.wantStatus == http.StatusOK && !strings.Contains(rec.Body.String(), `"allowed":true`) {
						t.Fatalf("want an allow: %s", rec.Body)
					}
				case <-time.After(3 * time.Second):
					t.Fatal("stalled behind another tenant's open")
				}
			})
		}
	}
}

// sendTo sends one request to srv in process.
func sendTo(srv *Server, ctx context.Context, method, path, cred, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// Requests racing to a tenant that is not open share one opening: one
// Client is built, and each request is answered by it.
func TestTenantOpensOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.seedKey(ctx, "initech", "bot", []string{"agent"})
	before := e.srv.metrics.tenantsOpened.Load()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if rec := sendTo(e.srv, ctx, "GET", "/v1/whoami", e.key("initech/bot"), ""); rec.Code != http.StatusOK {
				t.Errorf("whoami: %d %s", rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	if got := e.srv.metrics.tenantsOpened.Load() - before; got != 1 {
		t.Errorf("initech opened %d times, want 1", got)
	}
}
