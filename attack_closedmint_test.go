package agenttrust_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackClosedClientMints: a closed client refuses every check and
// every credential it is shown (Authenticate) with ErrClosed. It must
// not go on making credentials either: Exchange, ExchangeJWT, Delegate
// and NarrowJWT after Close (a service shutting down, a tenant's client
// retired, an integrator who keeps the pointer) would hand out tokens
// that every other client with the same keys honours, and record hops
// in the store, from a client that no longer answers for them.
func TestAttackClosedClientMints(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		mint func(c *agenttrust.Client, key, tok, jwt string) (string, error)
	}{
		{"Exchange", func(c *agenttrust.Client, key, _, _ string) (string, error) { return c.Exchange(ctx, key) }},
		{"ExchangeJWT", func(c *agenttrust.Client, key, _, _ string) (string, error) {
			return c.ExchangeJWT(ctx, key, "agenttrust")
		}},
		{"Delegate", func(c *agenttrust.Client, _, tok, _ string) (string, error) {
			s, _, err := c.Delegate(ctx, tok, 0)
			return s, err
		}},
		{"NarrowJWT", func(c *agenttrust.Client, _, _, jwt string) (string, error) {
			s, _, err := c.NarrowJWT(ctx, jwt, "agenttrust", 0)
			return s, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}))
			key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := f.c.Exchange(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			jwt, err := f.c.ExchangeJWT(ctx, key, "agenttrust")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.c.Close(); err != nil {
				t.Fatal(err)
			}
			if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: tok}); !errors.Is(err, agenttrust.ErrClosed) || d.Effect != agenttrust.Deny {
				t.Fatalf("control: check after Close: %v %v", d.Effect, err)
			}
			got, err := tc.mint(f.c, key, tok, jwt)
			if !errors.Is(err, agenttrust.ErrClosed) || got != "" {
				t.Errorf("%s after Close: credential of %d bytes, %v; want none and ErrClosed", tc.name, len(got), err)
			}
		})
	}
}
