package agenttrust_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// slowPending answers PendingApproval after a pause, as a remote database
// would: concurrent checks all ask before any of them creates.
type slowPending struct{ store.Store }

func (s slowPending) PendingApproval(ctx context.Context, tenant, fp string, now time.Time) (store.Approval, error) {
	a, err := s.Store.PendingApproval(ctx, tenant, fp, now)
	time.Sleep(10 * time.Millisecond)
	return a, err
}

// TestConcurrentChecksShareOneApproval: identical needs-approval checks
// made at once get the same pending approval, not one each.
func TestConcurrentChecksShareOneApproval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := slowPending{memory.New()}
		c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx := context.Background()
		const n = 8
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				d, err := c.Check(ctx, charge(60))
				if err != nil || d.Effect != agenttrust.NeedsApproval {
					t.Errorf("check %d: %v %v", i, d.Effect, err)
				}
				ids[i] = d.ApprovalID
			})
		}
		wg.Wait()
		for i, id := range ids {
			if id != ids[0] {
				t.Errorf("check %d got approval %q, check 0 %q", i, id, ids[0])
			}
		}
		pending, err := c.Approvals(ctx, agenttrust.ApprovalFilter{Status: agenttrust.ApprovalPending})
		if err != nil || len(pending) != 1 {
			t.Errorf("%d pending approvals (%v), want 1", len(pending), err)
		}
	})
}

// TestDecidedApprovalNotReused: once an approval is denied, or granted
// and used, the same request opens a new one.
func TestDecidedApprovalNotReused(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	ctx := context.Background()
	open := func() string {
		t.Helper()
		d, err := f.c.Check(ctx, charge(60))
		if err != nil || d.Effect != agenttrust.NeedsApproval || d.ApprovalID == "" {
			t.Fatalf("check: %v %q %v", d.Effect, d.ApprovalID, err)
		}
		return d.ApprovalID
	}
	first := open()
	if again := open(); again != first {
		t.Fatalf("a pending approval was not reused: %q then %q", first, again)
	}
	if err := f.c.DenyApproval(ctx, first, "alice", "no"); err != nil {
		t.Fatal(err)
	}
	second := open()
	if second == first {
		t.Fatalf("a denied approval %q was reused", first)
	}
	if err := f.c.Approve(ctx, second, "alice", "once"); err != nil {
		t.Fatal(err)
	}
	if d, err := f.c.Check(ctx, charge(60)); err != nil || !d.Allowed() || d.ApprovalID != second {
		t.Fatalf("approved check: %v %q %v", d.Effect, d.ApprovalID, err)
	}
	if third := open(); third == second || third == first {
		t.Fatalf("a used approval was reused: %q", third)
	}
}
