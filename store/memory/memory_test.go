package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return memory.New() })
}

func TestZeroValueIsClosed(t *testing.T) {
	var s memory.Store
	if _, _, err := s.Blocked(t.Context(), "acme", []string{"x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Blocked on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Revoke(t.Context(), store.Block{ID: "x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Revoke on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Close on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
}

func TestEmptyIDRefused(t *testing.T) {
	s := memory.New()
	ctx := t.Context()
	if err := s.Revoke(ctx, store.Block{Tenant: "acme"}); err == nil {
		t.Error("Revoke with an empty id succeeded")
	}
	if err := s.Suspend(ctx, store.Block{Tenant: "acme"}); err == nil {
		t.Error("Suspend with an empty id succeeded")
	}
	if err := s.CreateApproval(ctx, store.Approval{Tenant: "acme"}); err == nil {
		t.Error("CreateApproval with an empty id succeeded")
	}
	if bs, err := s.Blocks(ctx, ""); err != nil || len(bs) != 0 {
		t.Errorf("Blocks = %v, %v; want none", bs, err)
	}
}

// The empty tenant is a tenant like any other: ids in it are neither lost
// nor mixed with another tenant's.
func TestEmptyTenant(t *testing.T) {
	s := memory.New()
	ctx := t.Context()
	if err := s.Revoke(ctx, store.Block{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, blocked, err := s.Blocked(ctx, "", []string{"x"}); err != nil || !blocked {
		t.Errorf("Blocked in the empty tenant = %v, %v; want true", blocked, err)
	}
	if _, blocked, _ := s.Blocked(ctx, "x", []string{""}); blocked {
		t.Error(`Blocked("x", [""]) is true, want the key not to mix tenant and id`)
	}
	if err := s.CreateApproval(ctx, store.Approval{ID: "a", Fingerprint: "f"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approval(ctx, "", "a"); err != nil {
		t.Errorf("Approval in the empty tenant: %v", err)
	}
	if _, err := s.PutPolicy(ctx, store.PolicyDoc{Body: []byte("p")}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Policy(ctx, ""); err != nil {
		t.Errorf("Policy of the empty tenant: %v", err)
	}
}

func TestBlockedAllocatesNothing(t *testing.T) {
	s := newBlockedStore(t, 1000)
	ctx := context.Background()
	ids := []string{"agent-1", "session-1", "cred-1", "hop-1"}
	for _, tc := range []struct {
		name string
		ids  []string
	}{
		{"miss", ids},
		{"revoked", append(ids[:3:3], "revoked-7")},
		{"suspended", append(ids[:3:3], "suspended-7")},
	} {
		if n := testing.AllocsPerRun(100, func() { _, _, _ = s.Blocked(ctx, "acme", tc.ids) }); n != 0 {
			t.Errorf("Blocked %s: %v allocations, want 0", tc.name, n)
		}
	}
}

// newBlockedStore returns a store holding n blocks, half in tenant acme and
// half in globex, half revocations and half suspensions.
func newBlockedStore(tb testing.TB, n int) *memory.Store {
	tb.Helper()
	s := memory.New()
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n / 4 {
		for _, tenant := range []string{"acme", "globex"} {
			if err := s.Revoke(ctx, store.Block{Tenant: tenant, ID: fmt.Sprint("revoked-", i), CreatedAt: at}); err != nil {
				tb.Fatal(err)
			}
			if err := s.Suspend(ctx, store.Block{Tenant: tenant, ID: fmt.Sprint("suspended-", i), CreatedAt: at}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return s
}

func BenchmarkBlocked(b *testing.B) {
	s := newBlockedStore(b, 10_000)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		ids  []string
	}{
		{"miss", []string{"agent-1", "session-1", "cred-1", "hop-1"}},
		{"revoked", []string{"agent-1", "session-1", "cred-1", "revoked-1234"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Blocked(ctx, "acme", bc.ids); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBlockedParallel(b *testing.B) {
	s := newBlockedStore(b, 10_000)
	ctx := context.Background()
	ids := []string{"agent-1", "session-1", "cred-1", "hop-1"}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _, _ = s.Blocked(ctx, "acme", ids)
		}
	})
}

// BenchmarkRevoke shows the cost of a block write, which copies the hot
// snapshot.
func BenchmarkRevoke(b *testing.B) {
	s := newBlockedStore(b, 10_000)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: fmt.Sprint("bench-", i)}); err != nil {
			b.Fatal(err)
		}
	}
}
