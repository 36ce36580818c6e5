package agenttrust_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackEngineAnswersAfterContextEnded: a custom PolicyEngine that
// does not stop when its context ends (one that waits on a service of
// its own, a lock, a slow model) and then answers Allow must not make
// Check allow a request whose caller already gave up on it: the context
// ending is a failure of the check (SECURITY.md, failing closed), as it
// is for the store, the durable audit, and the remote engine, whose
// HTTP call ends with it. The Deny matches ErrPolicyEngine and the
// context's error.
func TestAttackEngineAnswersAfterContextEnded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		effect agenttrust.Effect
		// ctx makes the check's context; the engine ends it, or waits
		// for its end, before it answers.
		ctx  func() (context.Context, context.CancelFunc)
		wait bool
		want error
	}{
		{"deadline passes, engine allows", agenttrust.Allow, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}, true, context.DeadlineExceeded},
		{"caller cancels, engine allows", agenttrust.Allow, func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, false, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			engine := agenttrust.PolicyEngineFunc(func(ctx context.Context, _ *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
				if tc.wait {
					<-ctx.Done()
				} else {
					cancel()
				}
				return agenttrust.PolicyResult{Effect: tc.effect, Rule: "late"}, nil
			})
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicyEngine(engine))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
			if !errors.Is(err, agenttrust.ErrPolicyEngine) || !errors.Is(err, tc.want) || d.Effect != agenttrust.Deny {
				t.Errorf("got %v, %v; want a Deny with ErrPolicyEngine and %v", d.Effect, err, tc.want)
			}
		})
	}
}
