package agenttrust_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// gateStore holds every revocation lookup until n of them wait, so that
// n checks are all past the revocation phase at once, as checks in
// flight on a busy server are when one of them trips the breaker.
type gateStore struct {
	*memory.Store
	n       int32
	waiting atomic.Int32
	open    chan struct{}
	once    sync.Once
}

func (g *gateStore) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	b, blocked, err := g.Store.Blocked(ctx, tenant, ids)
	if g.waiting.Add(1) == g.n {
		g.once.Do(func() { close(g.open) })
	}
	select {
	case <-g.open:
	case <-time.After(5 * time.Second):
	}
	return b, blocked, err
}

// TestAttackBreakerTripLetsInFlightThrough: once the breaker trips on an
// agent's calls, the checks of that agent already past the revocation
// phase must not start a fresh count and be allowed, call after call,
// until each new count trips again: a burst of n concurrent calls under
// MaxCalls m would let about n*m/(m+1) through instead of m.
func TestAttackBreakerTripLetsInFlightThrough(t *testing.T) {
	for _, tc := range []struct{ maxCalls, n int }{{2, 30}, {5, 60}} {
		t.Run(fmt.Sprintf("max %d calls, %d at once", tc.maxCalls, tc.n), func(t *testing.T) {
			st := &gateStore{Store: memory.New(), n: int32(tc.n), open: make(chan struct{})}
			c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, openPolicy)),
				agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxCalls: tc.maxCalls, CallWindow: time.Hour}))
			must.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			var allowed atomic.Int32
			var wg sync.WaitGroup
			for range tc.n {
				wg.Go(func() {
					d, _ := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "search"})
					if d.Allowed() {
						allowed.Add(1)
					}
				})
			}
			wg.Wait()
			if got := int(allowed.Load()); got > tc.maxCalls {
				t.Fatalf("%d of %d concurrent calls allowed; the breaker allows %d before it trips", got, tc.n, tc.maxCalls)
			}
		})
	}
}
