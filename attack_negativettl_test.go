package agenttrust_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackDelegateNegativeTTL: a caller that narrows a token to what is
// left of a deadline (deadline.Sub(now)) passes a negative ttl once the
// deadline has gone by. Delegate must refuse it, as NarrowJWT does, and
// never read it as "do not shorten": that hands the sub-agent the
// parent's whole lifetime, the opposite of what was asked. Nothing is
// recorded for a refused delegation.
func TestAttackDelegateNegativeTTL(t *testing.T) {
	f := newFixture(t, openPolicy)
	ctx := context.Background()
	key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Roles: []string{store.RoleAgent}})
	if err != nil {
		t.Fatal(err)
	}
	parent, err := f.c.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{-time.Nanosecond, -time.Second, -time.Hour, time.Duration(-1 << 63)} {
		t.Run(ttl.String(), func(t *testing.T) {
			out, hop, err := f.c.Delegate(ctx, parent, ttl)
			if !errors.Is(err, agenttrust.ErrInvalidRequest) || out != "" || hop.ID != "" {
				t.Fatalf("Delegate(ttl %v) = %.20q, hop %q, %v; want a refusal matching ErrInvalidRequest", ttl, out, hop.ID, err)
			}
		})
	}
	info, err := agenttrust.InspectTokenUnverified(parent)
	if err != nil {
		t.Fatal(err)
	}
	hops, err := f.c.Delegations(ctx, info.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(hops) != 0 {
		t.Errorf("refused delegations recorded %d hops", len(hops))
	}
	// Controls: zero keeps the parent's life, a positive ttl shortens it.
	for _, tc := range []struct {
		ttl  time.Duration
		want time.Duration
	}{{0, agenttrust.DefaultTokenTTL}, {time.Minute, time.Minute}} {
		_, hop, err := f.c.Delegate(ctx, parent, tc.ttl)
		if err != nil {
			t.Fatalf("Delegate(ttl %v): %v", tc.ttl, err)
		}
		if got := hop.ExpiresAt.Sub(f.clock.Now()); got != tc.want {
			t.Errorf("Delegate(ttl %v): hop lives %v, want %v", tc.ttl, got, tc.want)
		}
	}
}
