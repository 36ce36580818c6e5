package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// A suspension blocks an agent on its next check until it is resumed; a
// revocation of one of the ids a check presents wins over it.
func Example() {
	ctx := context.Background()
	s := memory.New()
	defer s.Close()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ids := []string{"agent-7", "session-42", "token-9"} // what one check presents

	_ = s.Suspend(ctx, store.Block{Tenant: "acme", ID: "agent-7", Reason: "runaway loop", CreatedAt: now})
	b, blocked, _ := s.Blocked(ctx, "acme", ids)
	fmt.Println(blocked, b.Kind, b.ID, b.Reason)

	_ = s.Revoke(ctx, store.Block{Tenant: "acme", ID: "token-9", Reason: "leaked", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	b, blocked, _ = s.Blocked(ctx, "acme", ids)
	fmt.Println(blocked, b.Kind, b.ID, b.Reason)

	_ = s.Resume(ctx, "acme", "agent-7")
	_, blocked, _ = s.Blocked(ctx, "acme", ids[:2])
	fmt.Println(blocked)

	n, _ := s.PruneRevocations(ctx, now.Add(time.Hour))
	fmt.Println("pruned", n)

	_ = s.Close()
	_, _, err := s.Blocked(ctx, "acme", ids)
	fmt.Println(errors.Is(err, store.ErrClosed))
	// Output:
	// true suspended agent-7 runaway loop
	// true revoked token-9 leaked
	// false
	// pruned 1
	// true
}

// An approval is decided once and consumed once.
func ExampleStore_ConsumeApproval() {
	ctx := context.Background()
	s := memory.New()
	defer s.Close()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	fp := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

	_ = s.CreateApproval(ctx, store.Approval{
		ID: "ap-1", Tenant: "acme", Fingerprint: fp, Tool: "payments.transfer",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	_, err := s.DecideApproval(ctx, "acme", "ap-1", store.ApprovalDecision{
		Status: store.ApprovalApproved, By: "alice", At: now.Add(time.Minute), GrantExpiresAt: now.Add(10 * time.Minute),
	})
	fmt.Println("decided:", err)

	a, err := s.ConsumeApproval(ctx, "acme", fp, now.Add(2*time.Minute))
	fmt.Println(a.ID, a.Status, err)
	_, err = s.ConsumeApproval(ctx, "acme", fp, now.Add(3*time.Minute))
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// decided: <nil>
	// ap-1 consumed <nil>
	// true
}
