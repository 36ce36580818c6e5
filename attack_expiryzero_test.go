package agenttrust_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackExpiryAtTimeZero: an "expires" caveat at the zero instant
// (0001-01-01T00:00:00Z) is the value Go's time.Time uses for "none". A
// holder who appends one, then a later expiry, to a token must not make
// the token's expiry read as the later one: Delegate and NarrowJWT, which
// hold the token to its lifetime rather than evaluate every caveat, would
// extend an expired token, and a budget carved under it would never
// expire. Every such token is refused, as is the caveat on the way in.
func TestAttackExpiryAtTimeZero(t *testing.T) {
	const aud = "https://mcp.example"
	const zero = "expires < 0001-01-01T00:00:00Z"
	const later = "expires < 2099-01-01T00:00:00Z"
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{aud, "agenttrust"}}))
	ctx := context.Background()
	key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Roles: []string{store.RoleAgent}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour) // tok has expired
	for _, tc := range []struct {
		name string
		tok  string
	}{
		{"zero then later", agenttrust.AttenuateUncheckedForTest(tok, zero, later)},
		{"zero then later, after a hop", agenttrust.AttenuateUncheckedForTest(agenttrust.ForceHopForTest(tok), zero, later)},
		{"zero, <= form, then later", agenttrust.AttenuateUncheckedForTest(tok, "expires <= 0001-01-01T00:00:00Z", later)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, _, err := f.c.Delegate(ctx, tc.tok, 0); !errors.Is(err, agenttrust.ErrUnauthorized) {
				t.Errorf("Delegate of an expired token = %.20q, %v; want an error matching ErrUnauthorized", out, err)
			}
			if out, _, err := f.c.NarrowJWT(ctx, tc.tok, aud, 0); !errors.Is(err, agenttrust.ErrUnauthorized) {
				t.Errorf("NarrowJWT of an expired token = %.20q, %v; want an error matching ErrUnauthorized", out, err)
			}
			if info, err := agenttrust.InspectTokenUnverified(tc.tok); err == nil && info.ExpiresAt.After(f.clock.Now()) {
				t.Errorf("InspectTokenUnverified says the token expires at %v", info.ExpiresAt)
			}
			d, err := f.c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: tc.tok})
			if d.Allowed() || !errors.Is(err, agenttrust.ErrUnauthorized) {
				t.Errorf("Check = %v, %v; want a deny matching ErrUnauthorized", d.Effect, err)
			}
		})
	}
	t.Run("a budget carved under it expires with its token", func(t *testing.T) {
		budgeted, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "payer", Caveats: []string{"budget calls <= 3"}})
		if err != nil {
			t.Fatal(err)
		}
		parent, err := f.c.Exchange(ctx, budgeted)
		if err != nil {
			t.Fatal(err)
		}
		// The delegation takes all of the key's budget; with the caveats
		// refused it takes nothing. Either way, once parent has expired,
		// the key's next token has its budget back.
		f.c.Delegate(ctx, parent, 0, "budget calls <= 3", zero, later)
		f.clock.Advance(time.Hour)
		next, err := f.c.Exchange(ctx, budgeted)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: next}); !d.Allowed() {
			t.Errorf("the key's budget stays carved out for an expired delegation: %v (%s), %v", d.Effect, d.Rule, err)
		}
	})
	t.Run("refused on the way in", func(t *testing.T) {
		live, err := f.c.Exchange(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := agenttrust.Attenuate(live, zero, later); !errors.Is(err, agenttrust.ErrCaveat) {
			t.Errorf("Attenuate with %q: %v; want ErrCaveat", zero, err)
		}
		if _, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Caveats: []string{zero, later}}); !errors.Is(err, agenttrust.ErrCaveat) {
			t.Errorf("CreateKey with %q: %v; want ErrCaveat", zero, err)
		}
	})
}
