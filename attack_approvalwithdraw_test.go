package agenttrust_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackApprovalWithdraw: an approver who approved by mistake (the
// wrong card, a request seen to be fraudulent a moment later) could not
// take it back: DenyApproval refused an approved approval, which then
// allowed its request whenever the agent asked again within the grant
// TTL, and a remembered one allowed every request its grant covered.
// Withdrawn before its request used it, the approval is denied: the
// request is asked again, and a grant made with it allows nothing. Once
// used it cannot be withdrawn (ErrConflict), and only someone who may
// decide it may withdraw it (controls).
func TestAttackApprovalWithdraw(t *testing.T) {
	for _, tc := range []struct {
		name      string
		remember  bool
		usedFirst bool   // the request uses the approval before the withdrawal
		by        string // who withdraws
		wantErr   error  // nil: withdrawn
	}{
		{name: "approved, withdrawn by its approver", by: "bob"},
		{name: "approved, withdrawn by another approver", by: "alice"},
		{name: "remembered, withdrawn before use", remember: true, by: "bob"},
		{name: "used, then withdrawn (control)", usedFirst: true, by: "bob", wantErr: agenttrust.ErrConflict},
		{name: "withdrawn by one the rule does not name (control)", by: "mallory", wantErr: agenttrust.ErrInvalidRequest},
		{name: "withdrawn by its own agent (control)", by: "billing-bot", wantErr: agenttrust.ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, grantRulePolicy)
			req := bindingBase()
			id := held(t, f.c, req)
			if tc.remember {
				_, err := f.c.ApproveAndRemember(ctx, id, "bob", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
				must.NoError(t, err)
			} else {
				must.NoError(t, f.c.Approve(ctx, id, "bob", "looks fine"))
			}
			if tc.usedFirst {
				d, err := f.c.Check(ctx, req)
				must.NoError(t, err)
				must.Equal(t, id, d.ApprovalID)
			}
			err := f.c.DenyApproval(ctx, id, tc.by, "wrong card")
			if tc.wantErr != nil {
				must.True(t, errors.Is(err, tc.wantErr), "withdrawal: %v, want %v", err, tc.wantErr)
				if !tc.usedFirst {
					d, err := f.c.Check(ctx, req)
					must.NoError(t, err)
					must.True(t, d.Allowed() && d.ApprovalID == id, "the approval still allows: %+v", d)
				}
				return
			}
			must.NoError(t, err, "withdrawal of an approved approval")
			a, err := f.c.Approval(ctx, id)
			must.NoError(t, err)
			must.Equal(t, agenttrust.ApprovalDenied, a.Status)
			must.Equal(t, tc.by, a.DecidedBy)
			for _, res := range []string{"cust-1", "cust-2"} {
				req.Resource = res
				d, err := f.c.Check(ctx, req)
				must.NoError(t, err)
				must.Equal(t, agenttrust.NeedsApproval, d.Effect, "%s after the withdrawal: %+v", res, d)
				must.True(t, d.ApprovalID != id, "%s after the withdrawal waits on the withdrawn approval", res)
			}
		})
	}
}

// TestAttackApprovalWithdrawRace: a withdrawal racing the check that
// would use the approval: exactly one wins, and the audit trail says
// which (the check's allow names the approval; a withdrawal that lost is
// noted as not performed).
func TestAttackApprovalWithdrawRace(t *testing.T) {
	for i := range 20 {
		ctx := context.Background()
		f := newFixture(t, grantRulePolicy)
		req := bindingBase()
		id := held(t, f.c, req)
		must.NoError(t, f.c.Approve(ctx, id, "bob", ""))
		var wg sync.WaitGroup
		var d agenttrust.Decision
		var checkErr, withdrawErr error
		wg.Go(func() { d, checkErr = f.c.Check(ctx, req) })
		wg.Go(func() { withdrawErr = f.c.DenyApproval(ctx, id, "bob", "withdrawn") })
		wg.Wait()
		must.NoError(t, checkErr)
		used := d.Allowed() && d.ApprovalID == id
		if used == (withdrawErr == nil) {
			t.Fatalf("round %d: check used the approval %v, withdrawal %v: want exactly one", i, used, withdrawErr)
		}
		if !used && d.Effect != agenttrust.NeedsApproval {
			t.Fatalf("round %d: the check after a withdrawal: %+v", i, d)
		}
		a, err := f.c.Approval(ctx, id)
		must.NoError(t, err)
		want := map[bool]agenttrust.ApprovalStatus{true: agenttrust.ApprovalConsumed, false: agenttrust.ApprovalDenied}[used]
		must.Equal(t, want, a.Status, "round %d", i)
		var allowed, notes int
		for _, r := range f.records(t) {
			switch {
			case r.Tool == req.Tool && r.ApprovalID == id && r.Effect == agenttrust.Allow:
				allowed++
			case r.Resource == id && r.Effect == agenttrust.Deny && r.Tool != req.Tool:
				notes++ // an operator action on the approval noted as not performed
			}
		}
		if used && (allowed != 1 || notes != 1) || !used && (allowed != 0 || notes != 0) {
			t.Fatalf("round %d (used %v): audit holds %d allows under the approval and %d notes of a withdrawal not performed", i, used, allowed, notes)
		}
	}
}
