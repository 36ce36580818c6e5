package agenttrust_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// lastNano is the last time an int64 of nanoseconds since 1970 holds, the
// end of what the SQLite store can keep (2262-04-11T23:47:16.854775807Z).
var lastNano = time.Unix(0, math.MaxInt64).UTC()

// nanoBoundStore refuses, as the SQLite store does, a revocation whose
// expiry it cannot hold.
type nanoBoundStore struct{ store.Store }

func (s nanoBoundStore) Revoke(ctx context.Context, b store.Block) error {
	if b.ExpiresAt.After(lastNano) {
		return fmt.Errorf("expiry %s is past what this store holds: %w", b.ExpiresAt.Format(time.RFC3339), store.ErrInvalid)
	}
	return s.Store.Revoke(ctx, b)
}

// TestAttackRevokeKeyExpiringAtTheEdge: a key may expire at any time its
// store can hold, and Revoke keeps the key's revocation until that expiry
// plus the JWT leeway. For a key expiring within that leeway of the last
// time the store holds (SQLite: 2262-04-11, seconds before the int64
// nanoseconds run out), the revocation's expiry fell past it: every
// Revoke of the key failed and the key stayed valid, unrevocable. A key
// expiring that far out is as good as one without expiry, and its
// revocation now never expires, like theirs.
func TestAttackRevokeKeyExpiringAtTheEdge(t *testing.T) {
	ctx := context.Background()
	for _, exp := range []time.Time{
		lastNano.Add(-time.Second),
		lastNano.Add(-4 * time.Second),
		lastNano.Add(-time.Hour), // out of the leeway's reach: revocable before too
	} {
		t.Run(exp.Format(time.RFC3339), func(t *testing.T) {
			clock := newTestClock()
			p, err := agenttrust.ParsePolicy([]byte(openPolicy), "yaml")
			if err != nil {
				t.Fatal(err)
			}
			c, err := agenttrust.New(nanoBoundStore{memory.New()}, agenttrust.WithPolicy(p), agenttrust.WithClock(clock.Now),
				agenttrust.WithRandom(newSeededRandom()))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			secret, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", ExpiresAt: exp})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Revoke(ctx, key.ID); err != nil {
				t.Fatalf("Revoke of a key expiring at %s: %v", exp.Format(time.RFC3339), err)
			}
			if d, _ := c.Check(ctx, agenttrust.Request{Tool: "t", Credential: secret}); d.Effect != agenttrust.Deny {
				t.Fatalf("a check with the revoked key: %v; want Deny", d.Effect)
			}
		})
	}
}
