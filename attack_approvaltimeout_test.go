package agenttrust_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackApprovalTimeoutShortened: a needs_approval rule's
// approval_timeout "bounds how long a NeedsApproval result's approval
// stays pending" (PolicyResult.ApprovalTimeout), so that an unattended
// run asking for one fails closed when nobody answers in time. After the
// rule's timeout was shortened (or first set), a check of a request
// whose approval was opened before the change was handed that approval
// again, still pending for as long as the old rule allowed: a run
// waiting on it waited up to the client's 15 minutes, not the rule's 90
// seconds.
func TestAttackApprovalTimeoutShortened(t *testing.T) {
	const rule = "rules:\n  - {id: ask-deploy, effect: needs_approval, tools: [deploy]%s}\n"
	for _, tc := range []struct {
		name          string
		before, after string
		wait          time.Duration
		bound         time.Duration // the longest the answer's approval may stay pending
	}{
		{"timeout set, at once", "", ", approval_timeout: 90s", 0, 90 * time.Second},
		{"timeout set, 2m later", "", ", approval_timeout: 90s", 2 * time.Minute, 90 * time.Second},
		{"timeout shortened", ", approval_timeout: 10m", ", approval_timeout: 90s", time.Minute, 90 * time.Second},
		{"unchanged (control)", ", approval_timeout: 90s", ", approval_timeout: 90s", 0, 90 * time.Second},
		{"lengthened (control)", ", approval_timeout: 90s", "", 0, 15 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "rules: []\n")
			ctx := context.Background()
			if _, err := f.c.SavePolicy(ctx, []byte(fmtRule(rule, tc.before)), "yaml", 0); err != nil {
				t.Fatal(err)
			}
			req := agenttrust.Request{AgentID: "ci-bot", Tool: "deploy"}
			first, err := f.c.Check(ctx, req)
			if err != nil || first.Effect != agenttrust.NeedsApproval {
				t.Fatalf("first check: %v %v", first.Effect, err)
			}
			if _, err := f.c.SavePolicy(ctx, []byte(fmtRule(rule, tc.after)), "yaml", 1); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(tc.wait)
			d, err := f.c.Check(ctx, req)
			if err != nil || d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("second check: %v %v", d.Effect, err)
			}
			a, err := f.c.Approval(ctx, d.ApprovalID)
			if err != nil {
				t.Fatal(err)
			}
			if left := a.ExpiresAt.Sub(f.clock.Now()); left > tc.bound {
				t.Errorf("the answer's approval %s (reused: %v) stays pending %v more, past the rule's %v", a.ID, a.ID == first.ApprovalID, left, tc.bound)
			}
		})
	}
}

func fmtRule(format, extra string) string {
	return fmt.Sprintf(format, extra)
}
