package agenttrust_test

import (
	"context"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackNarrowJWTBudgetExpires: a budget a JWT's hop carves (NarrowJWT,
// the token endpoint's "caveat" parameters) belongs to a node that ends
// with the JWT, so once the JWT has expired its parent reclaims the unspent
// carve-out when it runs short, as for a delegated token (SECURITY.md §18).
// A JWT's expiry is its "exp" claim, not a caveat: the hop's node must not
// read as one that never expires, or an agent could lock its key's budget
// away for good with one short-lived JWT.
func TestAttackNarrowJWTBudgetExpires(t *testing.T) {
	const aud = "https://mcp.example"
	for _, tc := range []struct {
		name    string
		subject func(t *testing.T, f *fixture, key string) string
	}{
		{"API key subject", func(t *testing.T, f *fixture, key string) string { return key }},
		{"token subject (control)", func(t *testing.T, f *fixture, key string) string {
			tok, err := f.c.Exchange(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"JWT subject", func(t *testing.T, f *fixture, key string) string {
			j, err := f.c.ExchangeJWT(context.Background(), key, aud)
			if err != nil {
				t.Fatal(err)
			}
			return j
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{aud}}))
			ctx := context.Background()
			key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "payer", Caveats: []string{"budget calls <= 3"}})
			if err != nil {
				t.Fatal(err)
			}
			j, _, err := f.c.NarrowJWT(ctx, tc.subject(t, f, key), aud, time.Minute, "budget calls <= 3")
			if err != nil {
				t.Fatal(err)
			}
			// The JWT's first use carves all of the key's budget.
			if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: j}); !d.Allowed() {
				t.Fatalf("first use of the JWT: %v (%s), %v", d.Effect, d.Rule, err)
			}
			f.clock.Advance(time.Hour) // the JWT has expired
			if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: j}); d.Allowed() || err == nil {
				t.Fatalf("the expired JWT: %v, %v", d.Effect, err)
			}
			next, err := f.c.Exchange(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: next}); !d.Allowed() {
				t.Errorf("the key's budget stays carved out for an expired JWT: %v (%s), %v", d.Effect, d.Rule, err)
			}
		})
	}
}
