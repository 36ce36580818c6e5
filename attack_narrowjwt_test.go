package agenttrust_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackNarrowJWT: a JWT made by NarrowJWT (the token endpoint's
// minting) can do no more than its subject, for as long, and dies with
// any id of it.
func TestAttackNarrowJWT(t *testing.T) {
	const aud, other = "https://mcp.example", "https://other.example"
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}), agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{aud, "agenttrust"}}))
	ctx := context.Background()
	admin, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "ops", Roles: []string{store.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	agent, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Roles: []string{store.RoleAgent}})
	if err != nil {
		t.Fatal(err)
	}
	pinned, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Roles: []string{store.RoleAgent}, AllowedIPs: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	narrow := func(subject, audience string, ttl time.Duration, caveats ...string) (string, agenttrust.Hop) {
		t.Helper()
		j, h, err := f.c.NarrowJWT(ctx, subject, audience, ttl, caveats...)
		if err != nil {
			t.Fatal(err)
		}
		return j, h
	}
	check := func(cred, tool string, addr netip.Addr) error {
		d, err := f.c.Check(ctx, agenttrust.Request{Tool: tool, Credential: cred, RemoteAddr: addr})
		if err == nil && !d.Allowed() {
			return errors.New(d.Reason)
		}
		return err
	}
	lo := netip.MustParseAddr("10.1.2.3")

	t.Run("an admin key yields an agent", func(t *testing.T) {
		j, h := narrow(admin, aud, 0)
		p, err := f.c.Authenticate(ctx, j, lo)
		if err != nil || !slices.Equal(p.Roles, []string{store.RoleAgent}) || !slices.Equal(p.HopIDs, []string{h.ID}) {
			t.Fatalf("Authenticate = %+v, %v", p, err)
		}
		hops, err := f.c.Delegations(ctx, "", h.KeyID)
		if err != nil || !slices.ContainsFunc(hops, func(x agenttrust.Hop) bool { return x.ID == h.ID }) {
			t.Errorf("the hop is not recorded: %v %v", hops, err)
		}
	})
	t.Run("caveats carry over and narrow", func(t *testing.T) {
		tok, err := f.c.Exchange(ctx, agent, "tool in docs.*")
		if err != nil {
			t.Fatal(err)
		}
		j, _ := narrow(tok, aud, 0, "tool in docs.read")
		if err := check(j, "docs.read", lo); err != nil {
			t.Errorf("docs.read: %v", err)
		}
		for _, tool := range []string{"docs.write", "payments.charge"} {
			if err := check(j, tool, lo); !errors.Is(err, agenttrust.ErrCaveat) {
				t.Errorf("%s: %v", tool, err)
			}
		}
		// Narrowing the JWT again cannot drop a caveat either.
		j2, _ := narrow(j, aud, 0)
		if err := check(j2, "docs.write", lo); !errors.Is(err, agenttrust.ErrCaveat) {
			t.Errorf("twice narrowed, docs.write: %v", err)
		}
	})
	t.Run("an API key's allowlist carries over", func(t *testing.T) {
		j, _ := narrow(pinned, aud, 0)
		if err := check(j, "docs.read", lo); err != nil {
			t.Errorf("from inside the allowlist: %v", err)
		}
		if err := check(j, "docs.read", netip.MustParseAddr("192.0.2.1")); !errors.Is(err, errs.IPNotAllowed) {
			t.Errorf("from outside the allowlist: %v", err)
		}
	})
	t.Run("a JWT only for its own audience", func(t *testing.T) {
		j, _ := narrow(agent, aud, 0)
		if _, _, err := f.c.NarrowJWT(ctx, j, other, 0); !errors.Is(err, errs.Audience) {
			t.Errorf("to another audience: %v", err)
		}
		if _, _, err := f.c.NarrowJWT(ctx, j, aud, 0); err != nil {
			t.Errorf("to its own audience: %v", err)
		}
	})
	t.Run("expiry never grows", func(t *testing.T) {
		tok, err := f.c.Exchange(ctx, agent, "expires < "+f.clock.Now().Add(time.Minute).Format(time.RFC3339))
		if err != nil {
			t.Fatal(err)
		}
		_, h := narrow(tok, aud, time.Hour)
		if h.ExpiresAt.After(f.clock.Now().Add(time.Minute)) {
			t.Errorf("expires %v, after the subject's", h.ExpiresAt)
		}
		_, h = narrow(agent, aud, 10*time.Second)
		if !h.ExpiresAt.Equal(f.clock.Now().Add(10 * time.Second)) {
			t.Errorf("ttl: expires %v", h.ExpiresAt)
		}
	})
	t.Run("revoking the subject's token or hop kills the JWT", func(t *testing.T) {
		tok, err := f.c.Exchange(ctx, agent)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := narrow(tok, aud, 0)
		j2, h2 := narrow(j, aud, 0)
		info, err := agenttrust.InspectTokenUnverified(tok)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.c.Revoke(ctx, h2.ID); err != nil {
			t.Fatal(err)
		}
		if err := check(j2, "docs.read", lo); !errors.Is(err, agenttrust.ErrRevoked) {
			t.Errorf("after its hop is revoked: %v", err)
		}
		if err := check(j, "docs.read", lo); err != nil {
			t.Errorf("the parent JWT, its hop alive: %v", err)
		}
		if err := f.c.Revoke(ctx, info.ID); err != nil {
			t.Fatal(err)
		}
		if err := check(j, "docs.read", lo); !errors.Is(err, agenttrust.ErrRevoked) {
			t.Errorf("after the subject token is revoked: %v", err)
		}
		if _, _, err := f.c.NarrowJWT(ctx, tok, aud, 0); !errors.Is(err, agenttrust.ErrRevoked) {
			t.Errorf("narrowing a revoked token: %v", err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			name, subject, aud string
			ttl                time.Duration
			caveats            []string
			err                error
		}{
			{"no audience", agent, "", 0, nil, agenttrust.ErrInvalidRequest},
			{"negative ttl", agent, aud, -time.Second, nil, agenttrust.ErrInvalidRequest},
			{"bad caveat", agent, aud, 0, []string{"tool ~ x"}, agenttrust.ErrCaveat},
			{"hop caveat", agent, aud, 0, []string{"hop = hop_x"}, agenttrust.ErrCaveat},
			{"garbage", "hello", aud, 0, nil, agenttrust.ErrUnauthorized},
		} {
			if _, _, err := f.c.NarrowJWT(ctx, tc.subject, tc.aud, tc.ttl, tc.caveats...); !errors.Is(err, tc.err) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			}
		}
	})
}
