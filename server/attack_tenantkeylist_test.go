package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// keyCountStore is a memory store that counts the keys it lists, and
// whose reads of one tenant's policy, which opening that tenant's
// Client makes, fail: a tenant that does not open.
type keyCountStore struct {
	*memory.Store
	broken string
	listed atomic.Int64 // keys returned by Keys
}

func (g *keyCountStore) Keys(ctx context.Context, tenant string) ([]store.Key, error) {
	ks, err := g.Store.Keys(ctx, tenant)
	g.listed.Add(int64(len(ks)))
	return ks, err
}

func (g *keyCountStore) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	if tenant == g.broken {
		return store.PolicyDoc{}, errors.New("policy row unreadable")
	}
	return g.Store.Policy(ctx, tenant)
}

// TestAttackTenantKeyListPerRequest: a request naming a tenant whose
// Client is not open (a forged JWT claiming it, or any key of it) made
// the server list every key of that tenant to learn that it exists,
// once per request, until the tenant opened: with the tenant's open
// failing (here its policy cannot be read) or slow, each forged request
// cost a read of all its keys,
// without bound in the tenant's size. A tenant once seen to have keys is
// now remembered (keys are never deleted), so it is listed once.
func TestAttackTenantKeyListPerRequest(t *testing.T) {
	const (
		keys     = 300 // of the tenant that does not open
		requests = 20
	)
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	forged := seg(`{"alg":"EdDSA","typ":"JWT","kid":"k"}`) + "." +
		seg(`{"sub":"bot","tenant":"big","exp":4102444800,"jti":"tok_x","key":"key_x"}`) + "." + seg("forged")
	tests := []struct {
		name string
		send func(srv *Server, ctx context.Context, key string)
	}{
		{"forged_jwt", func(srv *Server, ctx context.Context, _ string) {
			sendTo(srv, ctx, "GET", "/v1/whoami", forged, "")
		}},
		{"api_key", func(srv *Server, ctx context.Context, key string) {
			sendTo(srv, ctx, "POST", "/v1/actions/check", key, `{"tool_name":"docs.read"}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &keyCountStore{Store: memory.New(), broken: "big"}
			srv, err := New(g, WithNodeName("n1"), WithSystemTenant("ops"), WithAuditKey(testAuditKey), WithClientOptions(testkit.Keys()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			e := &env{t: t, st: g.Store, clock: newTestClock(), keys: map[string]string{}, ids: map[string]string{}, rand: testkit.NewRandom()}
			ctx := context.Background()
			for i := range keys {
				e.seedKey(ctx, "big", fmt.Sprintf("bot%d", i), []string{"agent"})
			}
			before := g.listed.Load()
			for range requests {
				tt.send(srv, ctx, e.keys["big/bot0"])
			}
			if got := g.listed.Load() - before; got > 2*keys {
				t.Fatalf("%d requests for a tenant of %d keys that is not open listed %d keys (%d a request)", requests, keys, got, got/requests)
			}
		})
	}
}
