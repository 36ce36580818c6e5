package remote_test

import (
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackRemoteEngineDropsApprovalTimeout: a needs_approval rule's
// approval_timeout bounds how long the approval it opens stays pending:
// past it the approval lapses and the request stays denied. The store
// API's evaluate route answered effect, rule, reason and approvers but
// not the timeout, so a process deciding with remote.NewPolicyEngine
// kept such an approval pending for its own TTL: an approval granted
// after the rule's 90 seconds (here, at five minutes) still let the
// request through.
func TestAttackRemoteEngineDropsApprovalTimeout(t *testing.T) {
	for _, tt := range []struct {
		timeout, late string
	}{
		{"90s", "5m"},
		{"10m", "12m"},
	} {
		t.Run(tt.timeout, func(t *testing.T) {
			d := deploy(t)
			ctx := t.Context()
			policy := `{"rules":[{"id":"ask-deploy","effect":"needs_approval","tools":["deploy"],"approval_timeout":"` + tt.timeout + `"}]}`
			d.savePolicy(t, policy)
			engine, err := remote.NewPolicyEngine(d.url, d.keys["root"])
			if err != nil {
				t.Fatal(err)
			}
			defer engine.Close()
			clock := testkit.NewClock()
			local, err := agenttrust.New(memory.New(), agenttrust.WithTenant("acme"), agenttrust.WithPolicyEngine(engine), agenttrust.WithClock(clock.Now))
			if err != nil {
				t.Fatal(err)
			}
			defer local.Close()
			req := agenttrust.Request{AgentID: "ci-bot", Tool: "deploy"}
			dec, err := local.Check(ctx, req)
			if err != nil || dec.Effect != agenttrust.NeedsApproval {
				t.Fatalf("first check: %v %v", dec.Effect, err)
			}
			a, err := local.Approval(ctx, dec.ApprovalID)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := time.ParseDuration(tt.timeout)
			if got := a.ExpiresAt.Sub(a.CreatedAt); got != want {
				t.Errorf("the approval stays pending %v; the rule says %v", got, want)
			}
			late, _ := time.ParseDuration(tt.late)
			clock.Advance(late)
			if err := local.Approve(ctx, dec.ApprovalID, "carol", "late"); err == nil {
				if dec, err := local.Check(ctx, req); dec.Allowed() {
					t.Fatalf("approved at %v under a %v approval_timeout, the request was allowed (%v)", late, want, err)
				}
			}
		})
	}
}
