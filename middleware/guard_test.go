package middleware_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    resources: ["cust-*"]
    when: ["attr.amount <= 50"]
  - id: big-charges
    effect: needs_approval
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount > 50"]
`

type ChargeIn struct {
	Customer string  `agenttrust:"resource"`
	Amount   float64 `agenttrust:"attr,amount"`
	Memo     string
}

func newClient(t *testing.T) *agenttrust.Client {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGuard(t *testing.T) {
	c := newClient(t)
	var ran atomic.Int32
	charge := middleware.Guard(c, "payments.charge", func(_ context.Context, in ChargeIn) (string, error) {
		ran.Add(1)
		return "charged " + in.Customer, nil
	})
	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "s1")

	out, err := charge(ctx, ChargeIn{Customer: "cust-1", Amount: 40})
	if err != nil || out != "charged cust-1" {
		t.Fatalf("allowed call: %q %v", out, err)
	}
	// Denied: wrong resource (from the struct tag).
	_, err = charge(ctx, ChargeIn{Customer: "vendor-1", Amount: 40})
	var de *middleware.DeniedError
	if !errors.Is(err, middleware.ErrDenied) || !errors.As(err, &de) || de.Decision.Effect != agenttrust.Deny {
		t.Fatalf("denied call: %v", err)
	}
	// No identity in the context: denied as an invalid request.
	if _, err := charge(context.Background(), ChargeIn{Customer: "cust-1", Amount: 1}); !errors.Is(err, middleware.ErrDenied) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
		t.Fatalf("anonymous call: %v", err)
	}
	// Needs approval.
	_, err = charge(ctx, ChargeIn{Customer: "cust-1", Amount: 90})
	var ae *middleware.ApprovalRequiredError
	if !errors.Is(err, middleware.ErrApprovalRequired) || !errors.As(err, &ae) || ae.ApprovalID == "" {
		t.Fatalf("approval call: %v", err)
	}
	if ran.Load() != 1 {
		t.Fatalf("tool ran %d times, want 1 (only the allowed call)", ran.Load())
	}
}

// A guarded call that needs approval blocks until the approval is
// decided through the client, which wakes it at once (no time passes in
// the bubble, so the store poll cannot be what woke it), and then runs
// once; a refused approval never runs it.
func TestGuardWaitsForApproval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient(t)
		var ran atomic.Int32
		charge := middleware.Guard(c, "payments.charge", func(_ context.Context, in ChargeIn) (string, error) {
			ran.Add(1)
			return "ok", nil
		}, middleware.WaitForApproval())
		ctx := agenttrust.WithAgent(t.Context(), "billing-bot", "s1")
		type result struct {
			out string
			err error
		}
		call := func(amount float64) (<-chan result, string) {
			t.Helper()
			done := make(chan result, 1)
			go func() {
				out, err := charge(ctx, ChargeIn{Customer: "cust-9", Amount: amount})
				done <- result{out, err}
			}()
			synctest.Wait()
			select {
			case r := <-done:
				t.Fatalf("guarded call returned before any decision: %q %v", r.out, r.err)
			default:
			}
			as, err := c.Approvals(ctx, agenttrust.ApprovalFilter{Status: agenttrust.ApprovalPending})
			if err != nil || len(as) != 1 {
				t.Fatalf("pending approvals: %v %v", as, err)
			}
			return done, as[0].ID
		}
		decided := func(done <-chan result, how string) result {
			t.Helper()
			synctest.Wait()
			select {
			case r := <-done:
				return r
			default:
				t.Fatalf("%s did not wake the waiting guarded call", how)
				return result{}
			}
		}

		done, id := call(500)
		if err := c.Approve(ctx, id, "alice", "go ahead"); err != nil {
			t.Fatal(err)
		}
		if r := decided(done, "Approve"); r.err != nil || r.out != "ok" || ran.Load() != 1 {
			t.Fatalf("approved call: %q %v ran=%d", r.out, r.err, ran.Load())
		}

		done, id = call(600)
		if err := c.DenyApproval(ctx, id, "alice", "no"); err != nil {
			t.Fatal(err)
		}
		if r := decided(done, "DenyApproval"); !errors.Is(r.err, middleware.ErrDenied) || ran.Load() != 1 {
			t.Fatalf("refused call: %q %v ran=%d", r.out, r.err, ran.Load())
		}
	})
}

func TestGuardOptionsAndMisconfig(t *testing.T) {
	c := newClient(t)
	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "")
	tool := middleware.Guard(c, "payments.charge", func(_ context.Context, amount int) (int, error) { return amount, nil },
		middleware.Resource(func(int) string { return "cust-x" }),
		middleware.Attributes(func(n int) map[string]any { return map[string]any{"amount": n} }))
	if got, err := tool(ctx, 7); err != nil || got != 7 {
		t.Fatalf("options: %v %v", got, err)
	}
	type bad struct {
		N int `agenttrust:"resource"`
	}
	g := middleware.Guard(c, "t", func(context.Context, bad) (int, error) { return 1, nil })
	if _, err := g(ctx, bad{}); !errors.Is(err, agenttrust.ErrInvalidConfig) {
		t.Fatalf("bad tag: %v", err)
	}
	nilChecker := middleware.Guard[int, int](nil, "t", func(context.Context, int) (int, error) { return 1, nil })
	if _, err := nilChecker(ctx, 1); !errors.Is(err, middleware.ErrDenied) {
		t.Fatalf("nil checker: %v", err)
	}
}

func TestGuardStoreFailureNeverRuns(t *testing.T) {
	failing := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
		// A buggy checker that returns Allow with an error must not run fn.
		return agenttrust.Decision{Effect: agenttrust.Allow}, agenttrust.ErrStoreUnavailable
	})
	ran := false
	g := middleware.Guard(failing, "t", func(context.Context, int) (int, error) { ran = true; return 1, nil })
	if _, err := g(context.Background(), 1); !errors.Is(err, agenttrust.ErrStoreUnavailable) || ran {
		t.Fatalf("err %v ran %v", err, ran)
	}
}
