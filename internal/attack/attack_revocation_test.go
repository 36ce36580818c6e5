package attack

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store"
)

// openPolicy allows everything: these tests are about credentials.
const openPolicy = `
rules:
  - id: everything
    effect: allow
`

// offsetClock reads a shared clock off by a fixed amount: a node whose
// clock runs fast.
type offsetClock struct {
	base *clock
	off  time.Duration
}

func (c offsetClock) Now() time.Time { return c.base.Now().Add(c.off) }

// revocationNodes are clients of one tenant sharing a store and master
// key, as the nodes of a deployment do: long (1 h token TTL) and short
// (5 min) on the true clock, and two nodes whose clocks run 3 h and 30 h
// fast.
type revocationNodes struct {
	clock                     *clock
	long, short, fast, faster *agenttrust.Client
}

func newRevocationNodes(t *testing.T, st store.Store) *revocationNodes {
	t.Helper()
	n := &revocationNodes{clock: newClock()}
	p, err := agenttrust.ParsePolicy([]byte(openPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	open := func(chain string, clk interface{ Now() time.Time }, ttl time.Duration) *agenttrust.Client {
		c, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithClock(clk.Now),
			agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{masterKey()}}), agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{signingKey()}}),
			agenttrust.WithTokens(agenttrust.TokenConfig{TTL: ttl}), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: chain, Sinks: []agenttrust.AuditSink{audit.NewMemorySink(100)}}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	n.long = open("long", n.clock, time.Hour)
	n.short = open("short", n.clock, 5*time.Minute)
	n.fast = open("fast", offsetClock{n.clock, 3 * time.Hour}, 5*time.Minute)
	n.faster = open("faster", offsetClock{n.clock, 30 * time.Hour}, 5*time.Minute)
	return n
}

// TestAttackRevocationLifetime: a revocation outlives everything it
// covers, whichever node revoked (whatever its token TTL) and whichever
// node prunes (whatever its clock).
func TestAttackRevocationLifetime(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		testRevocationLifetime(t, b.open(t))
	})
}

func testRevocationLifetime(t *testing.T, st store.Store) {
	ctx := context.Background()
	n := newRevocationNodes(t, st)
	seq := 0
	key := func(agent string, expires time.Duration) (string, agenttrust.Key) {
		t.Helper()
		seq++
		spec := agenttrust.KeySpec{AgentID: agent}
		if expires > 0 {
			spec.ExpiresAt = n.clock.Now().Add(expires)
		}
		secret, k, err := n.long.CreateKey(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		return secret, k
	}
	token := func(secret string) string {
		t.Helper()
		tok, err := n.long.Exchange(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tokenID := func(tok string) string {
		info, err := agenttrust.InspectTokenUnverified(tok)
		if err != nil {
			t.Fatal(err)
		}
		return info.ID
	}
	prune := func(c *agenttrust.Client) {
		t.Helper()
		if _, err := c.PruneRevocations(ctx); err != nil {
			t.Fatal(err)
		}
	}
	revoke := func(c *agenttrust.Client, id string) {
		t.Helper()
		if err := c.Revoke(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// Each case revokes something, lets time pass and some node prune,
	// and returns the request the long-TTL node must still deny.
	cases := []struct {
		name string
		run  func(agent string) agenttrust.Request
	}{
		{"token-revoked-by-short-ttl-node", func(agent string) agenttrust.Request {
			secret, _ := key(agent, 0)
			tok := token(secret)
			revoke(n.short, tokenID(tok))
			n.clock.Advance(10 * time.Minute)
			prune(n.short)
			return agenttrust.Request{Tool: "t", Credential: tok}
		}},
		{"token-pruned-by-fast-clock", func(agent string) agenttrust.Request {
			secret, _ := key(agent, 0)
			tok := token(secret)
			revoke(n.long, tokenID(tok))
			prune(n.fast)
			n.clock.Advance(10 * time.Minute)
			return agenttrust.Request{Tool: "t", Credential: tok}
		}},
		{"token-pruned-by-clock-a-day-fast", func(agent string) agenttrust.Request {
			secret, _ := key(agent, 0)
			tok := token(secret)
			revoke(n.long, tokenID(tok))
			prune(n.faster)
			return agenttrust.Request{Tool: "t", Credential: tok}
		}},
		{"jwt-revoked-by-short-ttl-node", func(agent string) agenttrust.Request {
			secret, _ := key(agent, 0)
			jwt, err := n.long.ExchangeJWT(ctx, secret, "agenttrust")
			if err != nil {
				t.Fatal(err)
			}
			p, err := n.long.Authenticate(ctx, jwt, netipAddr())
			if err != nil {
				t.Fatal(err)
			}
			revoke(n.short, p.CredentialID)
			n.clock.Advance(10 * time.Minute)
			prune(n.short)
			return agenttrust.Request{Tool: "t", Credential: jwt}
		}},
		{"offline-hop-revoked-by-short-ttl-node", func(agent string) agenttrust.Request {
			secret, _ := key(agent, 0)
			child, err := agenttrust.Attenuate(token(secret), "tool = t")
			if err != nil {
				t.Fatal(err)
			}
			info, err := agenttrust.InspectTokenUnverified(child)
			if err != nil {
				t.Fatal(err)
			}
			revoke(n.short, info.HopIDs[0])
			n.clock.Advance(10 * time.Minute)
			prune(n.short)
			return agenttrust.Request{Tool: "t", Credential: child}
		}},
		{"delegated-hop-pruned-by-fast-clock", func(agent string) agenttrust.Request {
			secret, _ := key(agent, 0)
			child, hop, err := n.long.Delegate(ctx, token(secret), 0, "tool = t")
			if err != nil {
				t.Fatal(err)
			}
			revoke(n.short, hop.ID)
			prune(n.fast)
			prune(n.faster)
			return agenttrust.Request{Tool: "t", Credential: child}
		}},
		{"expiring-key-pruned-by-fast-clock", func(agent string) agenttrust.Request {
			secret, k := key(agent, 2*time.Hour)
			revoke(n.short, k.ID)
			prune(n.fast)
			n.clock.Advance(10 * time.Minute)
			return agenttrust.Request{Tool: "t", Credential: secret}
		}},
		{"expiring-key-token-pruned-by-clock-a-day-fast", func(agent string) agenttrust.Request {
			secret, k := key(agent, 2*time.Hour)
			tok := token(secret)
			revoke(n.short, k.ID)
			prune(n.faster)
			return agenttrust.Request{Tool: "t", Credential: tok}
		}},
		{"key-revoked-with-revoke-key", func(agent string) agenttrust.Request {
			secret, k := key(agent, time.Hour)
			if err := n.short.Revoke(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
			prune(n.fast)
			return agenttrust.Request{Tool: "t", Credential: secret}
		}},
		// Agents and sessions named like generated ids (tok_, hop_,
		// key_) are refused before any revocation is read: the root's
		// TestAttackRevocationNameCollision.
		{"agent", func(agent string) agenttrust.Request {
			secret, _ := key(agent, 0)
			revoke(n.short, agent)
			prune(n.faster)
			return agenttrust.Request{Tool: "t", Credential: secret}
		}},
		{"session", func(agent string) agenttrust.Request {
			secret, _ := key(agent, 0)
			revoke(n.short, "s-"+agent)
			prune(n.faster)
			return agenttrust.Request{Tool: "t", SessionID: "s-" + agent, Credential: secret}
		}},
		{"key-without-expiry", func(agent string) agenttrust.Request {
			secret, k := key(agent, 0)
			revoke(n.short, k.ID)
			prune(n.faster)
			return agenttrust.Request{Tool: "t", Credential: secret}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.run(fmt.Sprintf("agent-%d", i))
			for _, c := range []*agenttrust.Client{n.long, n.short} {
				d, err := c.Check(ctx, req)
				if !errors.Is(err, agenttrust.ErrRevoked) || d.Allowed() {
					t.Fatalf("Check = %v (%s), %v; want a deny with ErrRevoked", d.Effect, d.Reason, err)
				}
			}
		})
	}
	// Pruning still removes what nothing can use any more: a key that
	// expired long ago, refused as expired without its revocation.
	t.Run("prune-after-expiry", func(t *testing.T) {
		secret, k := key("agent-expired", time.Hour)
		revoke(n.short, k.ID)
		n.clock.Advance(time.Hour + 72*time.Hour)
		removed, err := n.long.PruneRevocations(ctx)
		if err != nil || removed < 1 {
			t.Fatalf("PruneRevocations = %d, %v; want the expired key's revocation removed", removed, err)
		}
		d, err := n.long.Check(ctx, agenttrust.Request{Tool: "t", Credential: secret})
		if !errors.Is(err, agenttrust.ErrExpired) || d.Allowed() {
			t.Fatalf("Check = %v, %v; want a deny with ErrExpired", d.Effect, err)
		}
		bs, err := st.Blocks(ctx, agenttrust.DefaultTenant)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.ID == k.ID {
				t.Fatalf("the expired key's revocation is still stored: %+v", b)
			}
		}
	})
}

func netipAddr() netip.Addr { return netip.Addr{} }
