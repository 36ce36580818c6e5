package memory_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return memory.New() })
}

// The memory store is a store.Watcher, so the suite's Watch cases run on
// it.
var _ store.Watcher = (*memory.Store)(nil)

func TestZeroValueIsClosed(t *testing.T) {
	var s memory.Store
	if _, _, err := s.Blocked(t.Context(), "acme", []string{"x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Blocked on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Revoke(t.Context(), store.Block{ID: "x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Revoke on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if _, err := s.KeyByHash(t.Context(), [32]byte{1}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("KeyByHash on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Watch(t.Context(), func(store.Change) {}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Watch on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Mark(t.Context(), "m"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Mark on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Close on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
}

// Beyond the empty ids the suite checks, the memory store refuses every
// empty id, fingerprint, chain and token, a zero key hash and a nil func
// with store.ErrInvalid.
func TestInvalidArguments(t *testing.T) {
	s := memory.New()
	ctx := t.Context()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	_, errApproval := s.Approval(ctx, "acme", "")
	_, errDecide := s.DecideApproval(ctx, "acme", "", store.ApprovalDecision{Status: store.ApprovalApproved, At: at})
	_, errConsume := s.ConsumeApproval(ctx, "acme", "", at)
	_, errPending := s.PendingApproval(ctx, "acme", "", at)
	_, errKey := s.Key(ctx, "acme", "")
	_, errKeyByHash := s.KeyByHash(ctx, [32]byte{})
	_, errHead := s.AuditHead(ctx, "")
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"Revoke", s.Revoke(ctx, store.Block{Tenant: "acme"})},
		{"Suspend", s.Suspend(ctx, store.Block{Tenant: "acme"})},
		{"Resume", s.Resume(ctx, "acme", "")},
		{"CreateApproval", s.CreateApproval(ctx, store.Approval{Tenant: "acme"})},
		{"Approval", errApproval},
		{"DecideApproval", errDecide},
		{"ConsumeApproval", errConsume},
		{"PendingApproval", errPending},
		{"CreateKey without id", s.CreateKey(ctx, store.Key{Tenant: "acme", Hash: [32]byte{1}})},
		{"CreateKey without hash", s.CreateKey(ctx, store.Key{Tenant: "acme", ID: "key-1"})},
		{"Key", errKey},
		{"KeyByHash", errKeyByHash},
		{"CreateHop", s.CreateHop(ctx, store.Hop{Tenant: "acme"})},
		{"AppendAudit", s.AppendAudit(ctx, []store.AuditRecord{{Seq: 1}})},
		{"AuditHead", errHead},
		{"Mark", s.Mark(ctx, "")},
		{"Watch", s.Watch(ctx, nil)},
	} {
		if !errors.Is(tc.err, store.ErrInvalid) {
			t.Errorf("%s: error = %v, want one wrapping %v", tc.name, tc.err, store.ErrInvalid)
		}
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

// BenchmarkRevoke shows the cost of a block write, which must not grow
// with the blocks already held (10,000, then 100,000).
func BenchmarkRevoke(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := newBlockedStore(b, n)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: fmt.Sprint("bench-", i)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// newKeyStore returns a store holding n keys, spread over 10 tenants,
// with hashes keyHash(0) to keyHash(n-1). Key 0 has no roles, prefixes or
// caveats; the others have one of each.
func newKeyStore(tb testing.TB, n int) *memory.Store {
	tb.Helper()
	s := memory.New()
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		k := store.Key{
			ID: fmt.Sprint("key-", i), Tenant: fmt.Sprint("tenant-", i%10), AgentID: "agent-1",
			Hash: keyHash(i), Name: "bench", CreatedAt: at,
		}
		if i > 0 {
			k.Roles, k.AllowedIPs, k.Caveats = []string{"agent"}, []string{"10.0.0.0/8"}, []string{"tool = files.read"}
		}
		if err := s.CreateKey(ctx, k); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

func keyHash(i int) [32]byte { return sha256.Sum256([]byte(fmt.Sprint("secret-", i))) }

func TestKeyByHashAllocations(t *testing.T) {
	s := newKeyStore(t, 1000)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		hash [32]byte
		want float64
	}{
		{"miss", keyHash(-1), 0},
		{"hit without slices", keyHash(0), 0},
		{"hit with slices", keyHash(7), 1}, // the copies of its slices, in one block
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = s.KeyByHash(ctx, tc.hash) }); n != tc.want {
			t.Errorf("KeyByHash %s: %v allocations, want %v", tc.name, n, tc.want)
		}
	}
	if _, err := s.KeyByHash(ctx, keyHash(-1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByHash of an unknown hash: error = %v, want one wrapping %v", err, store.ErrNotFound)
	}
}

func BenchmarkKeyByHash(b *testing.B) {
	s := newKeyStore(b, 10_000)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		hash [32]byte
	}{
		{"miss", keyHash(-1)},
		{"hit-bare", keyHash(0)},
		{"hit", keyHash(1234)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = s.KeyByHash(ctx, bc.hash)
			}
		})
	}
}

func BenchmarkKeyByHashParallel(b *testing.B) {
	s := newKeyStore(b, 10_000)
	ctx := context.Background()
	hash := keyHash(1234)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = s.KeyByHash(ctx, hash)
		}
	})
}

// BenchmarkCreateKey shows the cost of a key write, which copies one
// shard of the hash snapshot.
func BenchmarkCreateKey(b *testing.B) {
	s := newKeyStore(b, 10_000)
	ctx := context.Background()
	b.ReportAllocs()
	i := 10_000
	for b.Loop() {
		i++
		if err := s.CreateKey(ctx, store.Key{ID: fmt.Sprint("key-", i), Tenant: "acme", Hash: keyHash(i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// A watcher that falls more than its queue behind is dropped: writers go
// on without waiting for it, and its Watch ends with store.ErrUnavailable,
// telling the caller to reread.
func TestWatchOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memory.New()
		defer s.Close()
		ctx := t.Context()

		started := make(chan struct{})
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			first := true
			done <- s.Watch(ctx, func(store.Change) {
				if first {
					first = false
					close(started)
					<-release // stuck, as a slow consumer is
				}
			})
		}()
		// Once the watcher is listening, a marker gets it stuck in its
		// first call.
		synctest.Wait()
		if err := s.Mark(ctx, "ready"); err != nil {
			t.Fatal(err)
		}
		<-started

		// The writer never waits for the stuck watcher.
		version := int64(0)
		for range memory.WatchQueue + 10 {
			doc, err := s.PutPolicy(ctx, store.PolicyDoc{Tenant: "acme", Body: []byte("p")}, version)
			if err != nil {
				t.Fatal(err)
			}
			version = doc.Version
		}
		close(release)
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("Watch of a watcher left behind: error = %v, want one wrapping %v", err, store.ErrUnavailable)
			}
		default:
			t.Fatal("Watch of a watcher left behind did not return")
		}

		// Mark goes on without the dropped watcher.
		if err := s.Mark(ctx, "after"); err != nil {
			t.Fatal(err)
		}
	})
}

// Close ends every Watch at once, even one whose func is queued work.
func TestWatchEndsOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memory.New()
		done := make(chan error, 1)
		got := make(chan store.Change, 16)
		go func() { done <- s.Watch(context.Background(), func(c store.Change) { got <- c }) }()
		synctest.Wait() // the watcher is listening
		if err := s.Mark(t.Context(), "ready"); err != nil {
			t.Fatal(err)
		}
		<-got
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, store.ErrClosed) {
				t.Fatalf("Watch after Close: error = %v, want one wrapping %v", err, store.ErrClosed)
			}
		default:
			t.Fatal("Watch did not return after Close")
		}
	})
}
