package agenttrust_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackHopForgery: a hop id names one point of one delegation chain.
// A holder who appends a "hop = <id>" caveat of its own choosing (with its
// own macaroon tool: the signature stays valid) cannot take a hop id that
// a policy names, that another branch holds, or that is shaped like any
// other id, nor the token its delegation started from take its hop
// without the caveats that came with it: the token is refused as forged.
// (That holder can make a copy of what it delegated, no more.)
func TestAttackHopForgery(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}))
	secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	_, expiring, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", ExpiresAt: f.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	branchA, hopA, err := f.c.Delegate(ctx, tok, 0, "tool in payments.refund,docs.read")
	if err != nil {
		t.Fatal(err)
	}
	branchB, _, err := f.c.Delegate(ctx, tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	offline, err := agenttrust.Attenuate(tok)
	if err != nil {
		t.Fatal(err)
	}
	// Only branch A may refund; anyone may read.
	p := "rules:\n  - id: only-the-audited-branch\n    effect: allow\n    tools: [payments.refund]\n    when: [\"hop = " + hopA.ID + "\"]\n  - id: read\n    effect: allow\n    tools: [docs.read]\n"
	if err := f.c.SetPolicy(mustPolicy(t, p)); err != nil {
		t.Fatal(err)
	}
	belowA, err := agenttrust.Attenuate(branchA, "tool in payments.refund,docs.read")
	if err != nil {
		t.Fatal(err)
	}
	refund := func(cred string) (agenttrust.Decision, error) {
		return f.c.Check(ctx, agenttrust.Request{Tool: "payments.refund", Credential: cred})
	}
	copyA := agenttrust.AttenuateUncheckedForTest(tok, "hop = "+hopA.ID, "tool in payments.refund,docs.read")
	for name, cred := range map[string]string{"branch A": branchA, "below branch A": belowA, "the delegator's copy of branch A": copyA} {
		if d, err := refund(cred); err != nil || !d.Allowed() {
			t.Fatalf("control, %s: %v %v", name, d.Effect, err)
		}
	}
	for _, tc := range []struct {
		name, token, hop string
		more             []string // caveats after the hop
	}{
		{"the parent takes branch A's hop without its caveats", tok, hopA.ID, nil},
		{"the parent takes branch A's hop with wider caveats", tok, hopA.ID, []string{"tool in payments.refund,docs.read,mail.send"}},
		{"the parent takes branch A's hop with another caveat", tok, hopA.ID, []string{"tool in payments.refund"}},
		{"branch B takes branch A's hop", branchB, hopA.ID, nil},
		{"an offline branch takes branch A's hop", offline, hopA.ID, nil},
		{"a made-up hop id", tok, "hop_reviewedbranch", nil},
		{"a hop id of the generated shape", tok, "hop_" + strings.Repeat("a", 26), nil},
		{"an expiring key's id as hop", tok, expiring.ID, nil},
		{"the token's own id as hop", tok, tokenID(t, tok), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forged := agenttrust.AttenuateUncheckedForTest(tc.token, append([]string{"hop = " + tc.hop}, tc.more...)...)
			for _, tool := range []string{"payments.refund", "docs.read"} {
				d, err := f.c.Check(ctx, agenttrust.Request{Tool: tool, Credential: forged})
				if d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrUnauthorized) {
					t.Fatalf("%s: %v (%s) %v; want a deny with ErrUnauthorized", tool, d.Effect, d.Reason, err)
				}
			}
			if _, _, err := f.c.Delegate(ctx, forged, 0); !errors.Is(err, agenttrust.ErrUnauthorized) {
				t.Fatalf("Delegate of the forged token: %v", err)
			}
		})
	}
}

// TestAttackRevocationNameCollision: revocations of agents, sessions,
// tokens, hops and keys share one namespace, and the revocation of an
// expiring key is pruned once the key is long dead. No session or agent
// may take the name of a generated id, so that pruning a key's
// revocation can never lift a session's or an agent's.
func TestAttackRevocationNameCollision(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, openPolicy)
	_, old, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", ExpiresAt: f.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(60 * 24 * time.Hour)
	secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{old.ID, "key_x", "tok_x", "hop_x", "grt_x"} {
		t.Run(name, func(t *testing.T) {
			for field, req := range map[string]agenttrust.Request{
				"session":                {Tool: "t", SessionID: name, Credential: secret},
				"session, no credential": {Tool: "t", SessionID: name, AgentID: "bot"},
				"agent":                  {Tool: "t", AgentID: name},
			} {
				d, err := f.c.Check(ctx, req)
				if d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidRequest) {
					t.Errorf("%s %q: %v %v; want a deny with ErrInvalidRequest", field, name, d.Effect, err)
				}
			}
			if _, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: name}); !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Errorf("CreateKey for agent %q: %v; want ErrInvalidRequest", name, err)
			}
		})
	}
	// What the names were refused for: a revoked session stays revoked
	// after the pruning of the expired key's revocation.
	if err := f.c.Revoke(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Revoke(ctx, "s-1"); err != nil {
		t.Fatal(err)
	}
	if n, err := f.c.PruneRevocations(ctx); err != nil || n != 1 {
		t.Fatalf("PruneRevocations = %d, %v; want the expired key's one", n, err)
	}
	if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", SessionID: "s-1", Credential: secret}); d.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
		t.Fatalf("revoked session after pruning: %v %v", d.Effect, err)
	}
}

// TestAttackKeyExpiryCaveatBoundsJWT: an API key's "expires" caveat ends
// it as surely as its ExpiresAt: no JWT minted from it outlives it, and
// once it has passed the key mints nothing.
func TestAttackKeyExpiryCaveatBoundsJWT(t *testing.T) {
	ctx := context.Background()
	const aud = "https://mcp.example"
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}), agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{aud, "agenttrust"}}))
	end := f.clock.Now().Add(time.Minute).UTC().Truncate(time.Second)
	secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Caveats: []string{"expires < " + end.Format(time.RFC3339)}})
	if err != nil {
		t.Fatal(err)
	}
	jwt, hop, err := f.c.NarrowJWT(ctx, secret, aud, 0)
	if err != nil {
		t.Fatal(err)
	}
	if exp := jwtExp(t, jwt); exp.After(end) || hop.ExpiresAt.After(end) {
		t.Errorf("NarrowJWT: the key ends at %v, its JWT's exp is %v and its hop ends %v", end, exp, hop.ExpiresAt)
	}
	jwt2, err := f.c.ExchangeJWT(ctx, secret, aud)
	if err != nil {
		t.Fatal(err)
	}
	if exp := jwtExp(t, jwt2); exp.After(end) {
		t.Errorf("ExchangeJWT: the key ends at %v, its JWT's exp is %v", end, exp)
	}
	tok, err := f.c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := agenttrust.InspectTokenUnverified(tok); err != nil || info.ExpiresAt.After(end) {
		t.Errorf("Exchange: the key ends at %v, its token at %v (%v)", end, info.ExpiresAt, err)
	}
	f.clock.Advance(2 * time.Minute)
	if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: secret}); d.Allowed() || !errors.Is(err, agenttrust.ErrExpired) {
		t.Fatalf("control: Check with the dead key = %v, %v", d.Effect, err)
	}
	if _, _, err := f.c.NarrowJWT(ctx, secret, aud, 0); !errors.Is(err, agenttrust.ErrExpired) {
		t.Errorf("NarrowJWT from a key past its expires caveat: %v; want ErrExpired", err)
	}
	if _, err := f.c.ExchangeJWT(ctx, secret, aud); !errors.Is(err, agenttrust.ErrExpired) {
		t.Errorf("ExchangeJWT from a key past its expires caveat: %v; want ErrExpired", err)
	}
	if _, err := f.c.Exchange(ctx, secret); !errors.Is(err, agenttrust.ErrExpired) {
		t.Errorf("Exchange from a key past its expires caveat: %v; want ErrExpired", err)
	}
}

// tokenID is the id a token says it has.
func tokenID(t *testing.T, tok string) string {
	t.Helper()
	info, err := agenttrust.InspectTokenUnverified(tok)
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

// jwtExp reads a JWT's exp claim without verifying it.
func jwtExp(t *testing.T, jwt string) time.Time {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err != nil || json.Unmarshal(raw, &claims) != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	return time.Unix(claims.Exp, 0).UTC()
}
