package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
)

func TestApprovalFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var notified atomic.Int32
		notifier := func(_ context.Context, a agenttrust.Approval) error {
			notified.Add(1)
			return nil
		}
		f := newFixture(t, paymentsPolicy, agenttrust.WithNotifier(notifier))
		ctx := context.Background()

		d, err := f.c.Check(ctx, charge(60))
		if err != nil || d.Effect != agenttrust.NeedsApproval || d.ApprovalID == "" {
			t.Fatalf("first check: %+v %v", d, err)
		}
		id := d.ApprovalID
		// Asking again does not open a second approval.
		if d2, _ := f.c.Check(ctx, charge(60)); d2.ApprovalID != id {
			t.Fatalf("second check opened %q, want %q", d2.ApprovalID, id)
		}
		// The agent cannot approve its own request.
		if err := f.c.Approve(ctx, id, "billing-bot", "lgtm"); !errors.Is(err, errs.ApproverNotAllowed) {
			t.Fatalf("self-approval: %v", err)
		}
		if err := f.c.Approve(ctx, "apr_nope", "alice", ""); !errors.Is(err, errs.ApprovalNotFound) {
			t.Fatalf("unknown approval: %v", err)
		}
		if err := f.c.Approve(ctx, id, "alice", "ok once"); err != nil {
			t.Fatal(err)
		}
		if err := f.c.Approve(ctx, id, "bob", "me too"); !errors.Is(err, errs.ApprovalResolved) {
			t.Fatalf("second approval: %v", err)
		}
		// A different request (other amount) is not covered by the grant.
		if d, _ := f.c.Check(ctx, charge(61)); d.Effect != agenttrust.NeedsApproval || d.ApprovalID == id {
			t.Fatalf("other amount: %+v", d)
		}
		// The exact request is allowed once, then needs approval again.
		d, err = f.c.Check(ctx, charge(60))
		if err != nil || !d.Allowed() || d.ApprovalID != id || d.Reason != "approved by alice" {
			t.Fatalf("approved request: %+v %v", d, err)
		}
		if d, _ := f.c.Check(ctx, charge(60)); d.Effect != agenttrust.NeedsApproval || d.ApprovalID == id {
			t.Fatalf("grant reused: %+v", d)
		}
		a, err := f.c.Approval(ctx, id)
		if err != nil || a.Status != agenttrust.ApprovalConsumed || a.DecidedBy != "alice" || a.Note != "ok once" {
			t.Fatalf("approval after use: %+v %v", a, err)
		}
		if !strings.Contains(string(a.Attributes), `"amount":60`) {
			t.Errorf("approval attributes %s", a.Attributes)
		}
		synctest.Wait() // the notifier goroutines are done
		if n := notified.Load(); n != 3 {
			t.Errorf("notifier told of %d approvals, want 3", n)
		}
	})
}

func TestApprovalGrantExpires(t *testing.T) {
	f := newFixture(t, paymentsPolicy, agenttrust.WithApprovalTTL(time.Hour, time.Minute))
	ctx := context.Background()
	d, _ := f.c.Check(ctx, charge(70))
	if err := f.c.Approve(ctx, d.ApprovalID, "alice", ""); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute + time.Second)
	if d2, _ := f.c.Check(ctx, charge(70)); d2.Allowed() {
		t.Fatal("expired grant still allows")
	}
}

func TestApprovalLapses(t *testing.T) {
	f := newFixture(t, paymentsPolicy, agenttrust.WithApprovalTTL(time.Minute, time.Minute))
	ctx := context.Background()
	d, _ := f.c.Check(ctx, charge(70))
	f.clock.Advance(2 * time.Minute)
	if err := f.c.Approve(ctx, d.ApprovalID, "alice", ""); !errors.Is(err, errs.ApprovalResolved) {
		t.Fatalf("approving a lapsed approval: %v", err)
	}
	if _, err := f.c.WaitApproval(ctx, d.ApprovalID); !errors.Is(err, errs.ApprovalResolved) {
		t.Fatalf("waiting on a lapsed approval: %v", err)
	}
}

func TestApproversRestricted(t *testing.T) {
	f := newFixture(t, `
rules:
  - id: wire
    effect: needs_approval
    tools: [bank.wire]
    approvers: ["finance-*"]
`)
	ctx := context.Background()
	d, _ := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "bank.wire"})
	if err := f.c.Approve(ctx, d.ApprovalID, "alice", ""); !errors.Is(err, errs.ApproverNotAllowed) {
		t.Fatalf("non-approver: %v", err)
	}
	if err := f.c.DenyApproval(ctx, d.ApprovalID, "finance-bob", "no"); err != nil {
		t.Fatal(err)
	}
	a, _ := f.c.Approval(ctx, d.ApprovalID)
	if a.Status != agenttrust.ApprovalDenied {
		t.Fatalf("status %q", a.Status)
	}
	if d2, _ := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "bank.wire"}); d2.Allowed() {
		t.Fatal("denied approval allowed the request")
	}
}

// waitResult is what a WaitApproval running on its own goroutine returned.
type waitResult struct {
	a   agenttrust.Approval
	err error
}

// startWait runs WaitApproval on its own goroutine and, once it is parked
// (the caller runs in a synctest bubble), checks that it has not returned.
func startWait(t *testing.T, w interface {
	WaitApproval(context.Context, string) (agenttrust.Approval, error)
}, ctx context.Context, id string) <-chan waitResult {
	t.Helper()
	done := make(chan waitResult, 1)
	go func() {
		a, err := w.WaitApproval(ctx, id)
		done <- waitResult{a, err}
	}()
	synctest.Wait()
	select {
	case r := <-done:
		t.Fatalf("WaitApproval returned before any decision: %+v %v", r.a, r.err)
	default:
	}
	return done
}

// A decision made through the client wakes its waiters at once: no time
// passes in the bubble, so the store poll cannot be what woke them.
func TestWaitApproval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, paymentsPolicy)
		ctx := t.Context() // ends the waiters of a failed test
		// Approve and DenyApproval each wake a waiter at once.
		for _, tc := range []struct {
			amount int
			decide func(id string) error
			want   agenttrust.ApprovalStatus
			what   string
		}{
			{99, func(id string) error { return f.c.Approve(ctx, id, "alice", "") }, agenttrust.ApprovalApproved, "Approve"},
			{97, func(id string) error { return f.c.DenyApproval(ctx, id, "alice", "no") }, agenttrust.ApprovalDenied, "DenyApproval"},
		} {
			d, _ := f.c.Check(ctx, charge(tc.amount))
			done := startWait(t, f.c, ctx, d.ApprovalID)
			start := time.Now()
			if err := tc.decide(d.ApprovalID); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			select {
			case r := <-done:
				if r.err != nil || r.a.Status != tc.want {
					t.Fatalf("WaitApproval after %s: %+v %v", tc.what, r.a, r.err)
				}
			default:
				t.Fatalf("%s did not wake WaitApproval on the same client", tc.what)
			}
			if waited := time.Since(start); waited != 0 {
				t.Errorf("woken after %v by %s, want at once", waited, tc.what)
			}
		}

		// A context that ends stops the wait.
		d, _ := f.c.Check(ctx, charge(98))
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if _, err := f.c.WaitApproval(cctx, d.ApprovalID); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitApproval with ended context: %v", err)
		}
	})
}

// A decision made by another client sharing the store reaches a waiter
// through the store poll, within one poll interval.
func TestWaitApprovalSeesOtherClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, paymentsPolicy)
		other, err := agenttrust.New(f.st, agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), agenttrust.WithClock(f.clock.Now), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "other"}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Close() })
		ctx := t.Context() // ends the waiters of a failed test
		d, _ := f.c.Check(ctx, charge(99))
		done := startWait(t, f.c, ctx, d.ApprovalID)
		if err := other.Approve(ctx, d.ApprovalID, "alice", ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(agenttrust.ApprovalPoll)
		synctest.Wait()
		select {
		case r := <-done:
			if r.err != nil || r.a.Status != agenttrust.ApprovalApproved {
				t.Fatalf("WaitApproval: %+v %v", r.a, r.err)
			}
		default:
			t.Fatalf("another client's decision not seen within %v", agenttrust.ApprovalPoll)
		}
	})
}

func TestConcurrentApproversOneWins(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	ctx := context.Background()
	d, _ := f.c.Check(ctx, charge(77))
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f.c.Approve(ctx, d.ApprovalID, "approver-"+string(rune('a'+i)), "") == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d approvers succeeded, want 1", ok.Load())
	}
	// And the grant is used exactly once by concurrent identical checks.
	var allowed atomic.Int32
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, _ := f.c.Check(ctx, charge(77)); d.Allowed() {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 1 {
		t.Fatalf("%d checks allowed by one approval", allowed.Load())
	}
}
