package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
	"github.com/agenttrust/agenttrust/store/storetest"
)

// open opens a store on a new file in a temporary directory.
func open(tb testing.TB, opts ...sqlite.Option) (*sqlite.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "agenttrust.db")
	s, err := sqlite.Open(context.Background(), path, opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s, path
}

// The suite runs on a shared Store, which reads blocks from the table,
// and on an exclusive one, which answers them from its view.
func TestConformance(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []sqlite.Option
	}{{"shared", nil}, {"exclusive", []sqlite.Option{sqlite.WithExclusive()}}} {
		t.Run(mode.name, func(t *testing.T) {
			var paths sync.Map // *sqlite.Store -> its file
			newStore := func(t *testing.T) store.Store {
				s, path := open(t, mode.opts...)
				paths.Store(s, path)
				return s
			}
			reopen := func(t *testing.T, old store.Store) store.Store {
				path, ok := paths.Load(old)
				if !ok {
					t.Fatal("reopen: not a store of this test")
				}
				if err := old.Close(); err != nil {
					t.Fatalf("reopen: Close: %v", err)
				}
				s, err := sqlite.Open(t.Context(), path.(string), mode.opts...)
				if err != nil {
					t.Fatalf("reopen: Open: %v", err)
				}
				paths.Store(s, path)
				return s
			}
			storetest.Run(t, newStore, storetest.WithReopen(reopen))
		})
	}
}

// Writers in one process, on one Store and on a second Store sharing the
// file (as a second process would), never see "database is locked": the
// Store's one write connection queues them, and BEGIN IMMEDIATE with a busy
// timeout makes the two Stores wait for each other.
func TestConcurrentWritersNeverLocked(t *testing.T) {
	a, path := open(t)
	b, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := t.Context()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

	const writers, rounds, batch = 8, 20, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds*5)
	for g := range writers {
		s := a
		if g%2 == 1 {
			s = b
		}
		wg.Go(func() {
			chain := fmt.Sprint("node-", g)
			seq := uint64(1)
			for i := range rounds {
				id := fmt.Sprintf("w%d-%d", g, i)
				errs <- s.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok-" + id, Reason: "leaked", CreatedAt: at})
				errs <- s.Suspend(ctx, store.Block{Tenant: "acme", ID: "agent-" + id, CreatedAt: at})
				errs <- s.CreateApproval(ctx, store.Approval{
					Tenant: "acme", ID: "ap-" + id, Fingerprint: id, CreatedAt: at, ExpiresAt: at.Add(time.Hour),
				})
				_, err := s.DecideApproval(ctx, "acme", "ap-"+id, store.ApprovalDecision{
					Status: store.ApprovalApproved, By: "alice", At: at, GrantExpiresAt: at.Add(time.Hour),
				})
				errs <- err
				recs := make([]store.AuditRecord, batch)
				for j := range recs {
					recs[j] = store.AuditRecord{Chain: chain, Seq: seq, Time: at, Tenant: "acme", AgentID: id}
					seq++
				}
				errs <- s.AppendAudit(ctx, recs)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil {
			continue
		}
		if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "SQLITE_BUSY") {
			t.Fatalf("a writer saw the database locked: %v", err)
		}
		t.Fatalf("a writer failed: %v", err)
	}

	bs, err := a.Blocks(ctx, "acme")
	if err != nil || len(bs) != 2*writers*rounds {
		t.Errorf("Blocks: %d blocks, %v; want %d", len(bs), err, 2*writers*rounds)
	}
	as, err := b.Approvals(ctx, store.ApprovalFilter{Status: store.ApprovalApproved})
	if err != nil || len(as) != writers*rounds {
		t.Errorf("approved approvals: %d, %v; want %d", len(as), err, writers*rounds)
	}
	for g := range writers {
		chain := fmt.Sprint("node-", g)
		recs, err := a.QueryAudit(ctx, store.AuditQuery{Chain: chain})
		if err != nil || len(recs) != rounds*batch {
			t.Fatalf("chain %s: %d records, %v; want %d", chain, len(recs), err, rounds*batch)
		}
		for i, r := range recs {
			if r.Seq != uint64(i+1) {
				t.Fatalf("chain %s: record %d has seq %d", chain, i, r.Seq)
			}
		}
	}
}

func TestOpenRefusesBadArguments(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		opts []sqlite.Option
	}{
		{"empty path", "", nil},
		{"memory", ":memory:", nil},
		{"uri", "file:x.db?mode=memory", nil},
		{"negative busy timeout", filepath.Join(dir, "a.db"), []sqlite.Option{sqlite.WithBusyTimeout(-time.Second)}},
		{"no readers", filepath.Join(dir, "b.db"), []sqlite.Option{sqlite.WithMaxReaders(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tc.path, tc.opts...)
			if !errors.Is(err, store.ErrInvalid) {
				if s != nil {
					_ = s.Close()
				}
				t.Fatalf("Open = %v, want an error wrapping %v", err, store.ErrInvalid)
			}
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "dir", "agenttrust.db")
	if _, err := sqlite.Open(t.Context(), path); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open in a missing directory = %v, want an error wrapping %v", err, store.ErrUnavailable)
	}
}

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "x.db")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context = %v, want one wrapping %v", err, context.Canceled)
	}
}

func TestZeroValueIsClosed(t *testing.T) {
	var s sqlite.Store
	if _, _, err := s.Blocked(t.Context(), "acme", []string{"x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Blocked on the zero Store: %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Close on the zero Store: %v, want one wrapping %v", err, store.ErrClosed)
	}
}

// Times keep their nanoseconds, the zero time stays zero, and a time the
// store cannot hold is refused rather than changed.
func TestTimes(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	precise := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "a", CreatedAt: precise}); err != nil {
		t.Fatal(err)
	}
	b, _, err := s.Blocked(ctx, "acme", []string{"a"})
	if err != nil || !b.CreatedAt.Equal(precise) || !b.ExpiresAt.IsZero() {
		t.Fatalf("Blocked = %+v, %v; want CreatedAt %v and a zero ExpiresAt", b, err, precise)
	}
	epoch := time.Unix(0, 0)
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "epoch", CreatedAt: epoch}); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := s.Blocked(ctx, "acme", []string{"epoch"}); b.CreatedAt.IsZero() || !b.CreatedAt.Equal(epoch) {
		t.Fatalf("the Unix epoch came back as %v", b.CreatedAt)
	}
	for _, tm := range []time.Time{
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "far", ExpiresAt: tm})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Revoke with ExpiresAt %v: %v, want an error wrapping %v", tm, err, store.ErrInvalid)
		}
	}
	// Query bounds outside the range still compare correctly.
	if err := s.AppendAudit(ctx, []store.AuditRecord{{Chain: "c", Seq: 1, Time: precise}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    store.AuditQuery
		want int
	}{
		{store.AuditQuery{Since: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}, 1},
		{store.AuditQuery{Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, 1},
		{store.AuditQuery{Since: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
		{store.AuditQuery{Until: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
		{store.AuditQuery{Since: precise, Until: precise.Add(time.Nanosecond)}, 1},
		{store.AuditQuery{Since: precise.Add(time.Nanosecond)}, 0},
	} {
		recs, err := s.QueryAudit(ctx, tc.q)
		if err != nil || len(recs) != tc.want {
			t.Errorf("QueryAudit(since %v, until %v) = %d records, %v; want %d", tc.q.Since, tc.q.Until, len(recs), err, tc.want)
		}
	}
}

// Blocked with more ids than the prepared statements take builds its query
// on the spot and still orders revocations first, then by id.
func TestBlockedManyIDs(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	var ids []string
	for i := range 20 {
		ids = append(ids, fmt.Sprint("id-", i))
	}
	if err := s.Suspend(ctx, store.Block{Tenant: "acme", ID: "id-3"}); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := s.Blocked(ctx, "acme", ids); err != nil || !ok || b.ID != "id-3" {
		t.Fatalf("Blocked = %+v, %v, %v; want id-3 suspended", b, ok, err)
	}
	for _, id := range []string{"id-17", "id-12"} {
		if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if b, ok, err := s.Blocked(ctx, "acme", ids); err != nil || !ok || b.ID != "id-12" || b.Kind != store.Revoked {
		t.Fatalf("Blocked = %+v, %v, %v; want id-12 revoked", b, ok, err)
	}
}
