package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/storefaults"
	"github.com/agenttrust/agenttrust/store/postgres"
)

// TestAttackNotifyViewAgedDuringCheck: a notify-mode node whose change
// feed is stalled, and whose query link is slow, starts a check with an
// API key it has not cached; the key lookup takes seconds. Meanwhile
// another node stops the agent (or its key) and returns. When the check
// reaches its revocation phase, the node's view is seconds old, past
// MaxStaleness, and does not hold the stop: the check must deny. Its age
// must be measured when the view is read, not when the check began.
func TestAttackNotifyViewAgedDuringCheck(t *testing.T) {
	cases := []struct {
		name string
		stop func(ctx context.Context, b *agenttrust.Client, keyID string) error
	}{
		{"revoke agent", func(ctx context.Context, b *agenttrust.Client, _ string) error {
			return b.Revoke(ctx, "worker-1")
		}},
		{"revoke key", func(ctx context.Context, b *agenttrust.Client, keyID string) error {
			return b.Revoke(ctx, keyID)
		}},
		{"suspend agent", func(ctx context.Context, b *agenttrust.Client, _ string) error {
			return b.Suspend(ctx, "worker-1", "stop")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := testURL(t)
			schema := freshSchema(t, raw)
			feedURL, feedProxy := proxyURL(t, raw)
			queryURL, queryProxy := proxyURL(t, raw)
			const maxStale = 250 * time.Millisecond
			b := storefaults.NodeClient(t, open(t, raw, schema), "node-b")
			aStore := splitStore{
				Store: open(t, queryURL, schema, postgres.WithQueryTimeout(20*time.Second)),
				feed:  open(t, feedURL, schema, postgres.WithQueryTimeout(100*time.Millisecond), postgres.WithHeartbeat(50*time.Millisecond)),
			}
			a := storefaults.NodeClient(t, aStore, "node-a", agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: maxStale, PollInterval: 50 * time.Millisecond}))
			// Heal the links before the stores close.
			t.Cleanup(func() { feedProxy.Restore(); queryProxy.Restore() })
			ctx := context.Background()

			secret, key, err := b.CreateKey(ctx, agenttrust.KeySpec{AgentID: "worker-1"})
			if err != nil {
				t.Fatal(err)
			}
			// Node A's view is fresh and allows the agent.
			deadline := time.Now().Add(5 * time.Second)
			for {
				d, err := a.Check(ctx, storefaults.Work("warm"))
				if err == nil && d.Allowed() && d.Staleness < maxStale/4 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("node A never fresh: %v %v %v", d.Effect, d.Staleness, err)
				}
				time.Sleep(time.Millisecond)
			}

			// A's feed stalls and its queries slow down; a check with the
			// key, not cached on A, starts.
			feedProxy.Stall()
			queryProxy.Delay(time.Second)
			type result struct {
				d   agenttrust.Decision
				err error
			}
			done := make(chan result, 1)
			req := storefaults.Work("s-1")
			req.Credential = secret
			go func() {
				d, err := a.Check(ctx, req)
				done <- result{d, err}
			}()
			time.Sleep(100 * time.Millisecond)
			if err := tc.stop(ctx, b, key.ID); err != nil {
				t.Fatal(err)
			}
			stopped := time.Now()
			r := <-done
			if r.d.Allowed() {
				t.Fatalf("node A allowed %v after node B's stop returned, with a view %v old by its own account (bound %v): %v %v",
					time.Since(stopped).Truncate(time.Millisecond), r.d.Staleness, maxStale, r.d.Effect, r.err)
			}
			if r.err != nil && !errors.Is(r.err, agenttrust.ErrStoreUnavailable) && !errors.Is(r.err, agenttrust.ErrRevoked) {
				t.Fatalf("denied with an unexpected error: %v", r.err)
			}
			t.Logf("denied %v after the stop: %s %v", time.Since(stopped).Truncate(time.Millisecond), r.d.Reason, r.err)
		})
	}
}
