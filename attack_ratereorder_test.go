package agenttrust_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// stallOnce is a memory store whose next revocation lookup, once armed,
// waits until released, as a check held up by a slow store does.
type stallOnce struct {
	*memory.Store
	gate atomic.Pointer[putGate]
}

func (s *stallOnce) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	if g := s.gate.Swap(nil); g != nil {
		close(g.committed)
		<-g.release
	}
	return s.Store.Blocked(ctx, tenant, ids)
}

// A check reads the clock when it begins and takes its rate-limit token
// later, after its credential and revocation phases. A check held up
// meanwhile (a slow store, a slow credential) reaches its bucket with a
// time older than checks that began after it and already took tokens.
// The token bucket then moved its clock back to that older time, and the
// next check was credited the same stretch of time again: with a limit
// of 10/m and a burst of 10, one delayed check let 30 calls through in a
// minute, where at most 20 (the burst and the rate) may pass.
func TestAttackRateLimitReorderedChecks(t *testing.T) {
	ctx := context.Background()
	for _, scope := range []string{"node", "cluster"} {
		t.Run(scope, func(t *testing.T) {
			p := mustPolicy(t, fmt.Sprintf(`
rules:
  - id: all
    effect: allow
    agents: ["*"]
    tools: ["*"]
limits:
  - id: ten-a-minute
    agents: ["*"]
    tools: ["*"]
    rate: 10/m
    burst: 10
    scope: %s
`, scope))
			clk := newTestClock()
			st := &stallOnce{Store: memory.New()}
			c, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithClock(clk.Now))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := agenttrust.Request{AgentID: "bot", Tool: "t"}
			allowed := 0
			burst := func(n int) {
				for range n {
					if d, _ := c.Check(ctx, req); d.Allowed() {
						allowed++
					}
				}
			}
			burst(10) // the whole burst, at T0
			// A check begins at T0 and stalls in its revocation lookup.
			g := &putGate{committed: make(chan struct{}), release: make(chan struct{})}
			st.gate.Store(g)
			late := make(chan bool, 1)
			go func() {
				d, _ := c.Check(ctx, req)
				late <- d.Allowed()
			}()
			<-g.committed
			clk.Advance(time.Minute) // 10 tokens more
			burst(9)                 // checks that began a minute later take 9
			close(g.release)
			if <-late {
				allowed++
			}
			burst(20) // and then, still at T0 + 1m
			if allowed > 20 {
				t.Fatalf("%d calls allowed within one minute under 10/m with a burst of 10 (at most 20)", allowed)
			}
		})
	}
}
