package agenttrust_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackNilPolicyOption: WithPolicy and WithPolicyEngine name the
// policy the integrator means to enforce. Given nil (a policy file or a
// Cedar engine that failed to load, its error dropped), New took the
// option as absent and the client went on deciding by whatever policy
// the store holds for the tenant (one a server's admin saved for other
// purposes), allowing what the integrator's own policy denies. As
// WithClock(nil) is, a nil policy or engine must be refused by New with
// ErrInvalidConfig, never replaced by another.
func TestAttackNilPolicyOption(t *testing.T) {
	ctx := context.Background()
	var failedLoad *agenttrust.Policy        // LoadPolicyFile's nil, its error dropped
	var failedEngine agenttrust.PolicyEngine // an engine constructor's nil
	for _, tc := range []struct {
		name string
		opt  agenttrust.Option
	}{
		{"WithPolicy(nil)", agenttrust.WithPolicy(failedLoad)},
		{"WithPolicyEngine(nil)", agenttrust.WithPolicyEngine(failedEngine)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			// The tenant's stored policy, wider than the integrator's.
			if _, err := st.PutPolicy(ctx, store.PolicyDoc{Tenant: agenttrust.DefaultTenant, Format: "yaml",
				Body: []byte("rules:\n  - id: anything\n    effect: allow\n")}, 0); err != nil {
				t.Fatal(err)
			}
			c, err := agenttrust.New(st, tc.opt)
			if err == nil {
				defer c.Close()
				d, cerr := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "payments.refund"})
				t.Fatalf("New accepted it; a check then got %v by rule %q (%v); want ErrInvalidConfig from New", d.Effect, d.Rule, cerr)
			}
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("New: %v; want ErrInvalidConfig", err)
			}
		})
	}
}
