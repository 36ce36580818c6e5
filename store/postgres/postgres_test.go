package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/postgres"
	"github.com/agenttrust/agenttrust/store/storetest"
)

// envURL names the environment variable holding the URL of the test
// database, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const envURL = "AGENTTRUST_TEST_POSTGRES"

// testURL returns the URL of the test database, or skips tb.
func testURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		tb.Skipf("set %s to a PostgreSQL URL (such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL tests", envURL)
	}
	return url
}

// freshSchema returns the name of a new random schema, dropped with
// everything in it when tb ends.
func freshSchema(tb testing.TB, url string) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "agenttrust_test_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() { dropSchema(tb, url, name) })
	return name
}

func dropSchema(tb testing.TB, url, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Errorf("drop schema %s: %v", name, err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
		tb.Errorf("drop schema %s: %v", name, err)
	}
}

// open opens a store on the schema of url, closed when tb ends.
func open(tb testing.TB, url, schema string, opts ...postgres.Option) *postgres.Store {
	tb.Helper()
	// The database is shared with the rest of CI: under the race
	// detector's load a connection can outlast the connect timeout, so an
	// unavailable store is tried again, twice.
	var s *postgres.Store
	var err error
	for attempt := 1; ; attempt++ {
		s, err = postgres.Open(context.Background(), url, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
		if err == nil || attempt == 3 || !errors.Is(err, store.ErrUnavailable) {
			break
		}
		tb.Logf("Open, attempt %d: %v", attempt, err)
	}
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// newStore opens a store on a fresh schema.
func newStore(tb testing.TB, opts ...postgres.Option) (*postgres.Store, string) {
	tb.Helper()
	url := testURL(tb)
	schema := freshSchema(tb, url)
	return open(tb, url, schema, opts...), schema
}

func TestConformance(t *testing.T) {
	url := testURL(t)
	storetest.Run(t,
		func(t *testing.T) store.Store {
			// 1,000 spends of a budget tree (Budgets/ConcurrentTree) queue
			// on its root's row, behind max(4, NumCPU) connections: on a
			// database shared with the rest of CI, under the race
			// detector, the last waits longer than the default timeout.
			return open(t, url, freshSchema(t, url), postgres.WithQueryTimeout(20*time.Second))
		},
		storetest.WithReopen(func(t *testing.T, s store.Store) store.Store {
			schema := s.(*postgres.Store).Schema()
			if err := s.Close(); err != nil {
				t.Fatalf("close before reopen: %v", err)
			}
			return open(t, url, schema)
		}),
	)
}

func TestZeroValueIsClosed(t *testing.T) {
	var s postgres.Store
	ctx := t.Context()
	if _, _, err := s.Blocked(ctx, "acme", []string{"x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Blocked on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Revoke(ctx, store.Block{ID: "x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Revoke on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Watch(ctx, func(store.Change) {}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Watch on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Close on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
}

func TestOpenInvalidOptions(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		url  string
		opts []postgres.Option
	}{
		{"empty schema", "postgres://127.0.0.1/x", []postgres.Option{postgres.WithSchema("")}},
		{"long schema", "postgres://127.0.0.1/x", []postgres.Option{postgres.WithSchema(strings.Repeat("s", 64))}},
		{"NUL in schema", "postgres://127.0.0.1/x", []postgres.Option{postgres.WithSchema("a\x00b")}},
		{"zero timeout", "postgres://127.0.0.1/x", []postgres.Option{postgres.WithQueryTimeout(0)}},
		{"no conns", "postgres://127.0.0.1/x", []postgres.Option{postgres.WithMaxConns(0)}},
		{"zero heartbeat", "postgres://127.0.0.1/x", []postgres.Option{postgres.WithHeartbeat(0)}},
		{"bad url", "postgres://user:secret@[::1/x", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, tc.url, tc.opts...)
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Open = %v, %v; want an error wrapping %v", s, err, store.ErrInvalid)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	// Nothing listens on port 1 of the loopback address.
	start := time.Now()
	_, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable",
		postgres.WithQueryTimeout(500*time.Millisecond))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open of an unreachable database: error = %v, want one wrapping %v", err, store.ErrUnavailable)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Open of an unreachable database took %v", took)
	}
}

func TestOpenCancelled(t *testing.T) {
	url := testURL(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := postgres.Open(ctx, url, postgres.WithSchema(freshSchema(t, url))); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context: error = %v, want one wrapping %v", err, context.Canceled)
	}
}

// Concurrent Opens of a new schema each succeed, and migrate it once.
func TestConcurrentOpen(t *testing.T) {
	url := testURL(t)
	schema := freshSchema(t, url)
	const n = 8
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = postgres.Open(t.Context(), url, postgres.WithSchema(schema), postgres.WithMaxConns(1))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	// Each sees the others' writes.
	ctx := t.Context()
	if err := stores[0].Revoke(ctx, store.Block{Tenant: "acme", ID: "tok-1"}); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if _, blocked, err := s.Blocked(ctx, "acme", []string{"tok-1"}); err != nil || !blocked {
			t.Errorf("store %d: Blocked = %v, %v; want true", i, blocked, err)
		}
	}
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var versions int
	q := fmt.Sprintf("SELECT count(*) FROM %s.schema_migrations", pgx.Identifier{schema}.Sanitize())
	if err := c.QueryRow(ctx, q).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if versions != len(files) {
		t.Errorf("schema_migrations holds %d rows, want one per migration (%d)", versions, len(files))
	}
}

// A schema migrated by a newer build is refused rather than used.
func TestOpenNewerSchema(t *testing.T) {
	url := testURL(t)
	schema := freshSchema(t, url)
	s := open(t, url, schema)
	s.Close()
	ctx := t.Context()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	q := fmt.Sprintf("INSERT INTO %s.schema_migrations (version, name) VALUES (9999, 'future')", pgx.Identifier{schema}.Sanitize())
	if _, err := c.Exec(ctx, q); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(ctx, url, postgres.WithSchema(schema)); err == nil {
		s.Close()
		t.Fatal("Open of a schema at a newer version succeeded")
	}
}

// Stores on different schemas share nothing.
func TestSchemasIsolated(t *testing.T) {
	a, _ := newStore(t)
	b, _ := newStore(t)
	ctx := t.Context()
	if err := a.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok-1"}); err != nil {
		t.Fatal(err)
	}
	if _, blocked, err := b.Blocked(ctx, "acme", []string{"tok-1"}); err != nil || blocked {
		t.Fatalf("Blocked on another schema = %v, %v; want false", blocked, err)
	}
}

// Times keep their nanoseconds; times outside what int64 nanoseconds hold
// are refused, not changed.
func TestTimes(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	at := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok-1", CreatedAt: at, ExpiresAt: at.Add(time.Nanosecond)}); err != nil {
		t.Fatal(err)
	}
	b, blocked, err := s.Blocked(ctx, "acme", []string{"tok-1"})
	if err != nil || !blocked || !b.CreatedAt.Equal(at) || !b.ExpiresAt.Equal(at.Add(time.Nanosecond)) {
		t.Fatalf("Blocked = %+v, %v, %v; want the times to the nanosecond", b, blocked, err)
	}
	for _, far := range []time.Time{
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "far", ExpiresAt: far})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Revoke expiring %v: error = %v, want one wrapping %v", far, err, store.ErrInvalid)
		}
	}
	// A far "now" still compares: everything expiring has expired.
	n, err := s.PruneRevocations(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || n != 1 {
		t.Fatalf("PruneRevocations in 9999 = %d, %v; want 1", n, err)
	}
}

// Strings PostgreSQL cannot store (a NUL, invalid UTF-8) are refused with
// ErrInvalid, and the store goes on.
func TestUnstorableText(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	for _, id := range []string{"nul\x00id", "bad\xffutf8"} {
		if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: id}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Revoke of %q: error = %v, want one wrapping %v", id, err, store.ErrInvalid)
		}
	}
	long := strings.Repeat("x", 8000)
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: long}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Revoke of an 8000-byte id: error = %v, want one wrapping %v", err, store.ErrInvalid)
	}
	if err := s.Mark(ctx, long); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Mark of an 8000-byte token: error = %v, want one wrapping %v", err, store.ErrInvalid)
	}
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "ok"}); err != nil {
		t.Fatalf("Revoke after refused ones: %v", err)
	}
}

// Ids sort bytewise, as in Go, whatever the database's collation.
func TestBytewiseOrder(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	ids := []string{"b", "B", "a", "_", "é", "A", "aa", "Z"}
	for _, id := range ids {
		if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	bs, err := s.Blocks(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		got = append(got, b.ID)
	}
	want := "A B Z _ a aa b é"
	if strings.Join(got, " ") != want {
		t.Errorf("Blocks in order %q, want %q", strings.Join(got, " "), want)
	}
}

// Of several approved approvals for one request, racing consumers take
// each exactly once, oldest first.
func TestConsumeManyRace(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const approvals = 5
	for i := range approvals {
		id := fmt.Sprint("ap-", i)
		a := store.Approval{ID: id, Tenant: "acme", Fingerprint: "fp", CreatedAt: base.Add(time.Duration(i) * time.Second), ExpiresAt: base.Add(time.Hour)}
		if err := s.CreateApproval(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DecideApproval(ctx, "acme", id, store.ApprovalDecision{Status: store.ApprovalApproved, At: base.Add(time.Minute), GrantExpiresAt: base.Add(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	const consumers = 16
	got := make([]string, consumers)
	errs := make([]error, consumers)
	var wg sync.WaitGroup
	for i := range consumers {
		wg.Go(func() {
			a, err := s.ConsumeApproval(ctx, "acme", "fp", base.Add(90*time.Minute))
			got[i], errs[i] = a.ID, err
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		switch {
		case err == nil && seen[got[i]]:
			t.Errorf("approval %s consumed twice", got[i])
		case err == nil:
			seen[got[i]] = true
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("consumer %d: %v", i, err)
		}
	}
	if len(seen) != approvals {
		t.Errorf("%d approvals consumed, want %d", len(seen), approvals)
	}
	// Sequentially, the oldest goes first.
	for i := range 2 {
		a := store.Approval{ID: fmt.Sprint("late-", i), Tenant: "acme", Fingerprint: "fp2", CreatedAt: base.Add(time.Duration(10-i) * time.Second), ExpiresAt: base.Add(time.Hour)}
		if err := s.CreateApproval(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DecideApproval(ctx, "acme", a.ID, store.ApprovalDecision{Status: store.ApprovalApproved, At: base, GrantExpiresAt: base.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if a, err := s.ConsumeApproval(ctx, "acme", "fp2", base.Add(time.Minute)); err != nil || a.ID != "late-1" {
		t.Fatalf("ConsumeApproval = %s, %v; want the oldest, late-1", a.ID, err)
	}
}

// Two stores on one schema, as two nodes: a write on one is visible to
// the other as soon as it returns, and an audit chain written through
// both has no gap.
func TestTwoNodes(t *testing.T) {
	url := testURL(t)
	schema := freshSchema(t, url)
	a, b := open(t, url, schema), open(t, url, schema)
	ctx := t.Context()
	if err := a.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok-1"}); err != nil {
		t.Fatal(err)
	}
	if _, blocked, err := b.Blocked(ctx, "acme", []string{"tok-1"}); err != nil || !blocked {
		t.Fatalf("Blocked on the other node = %v, %v; want true", blocked, err)
	}

	const perNode = 50
	var wg sync.WaitGroup
	for node, s := range []*postgres.Store{a, b} {
		wg.Go(func() {
			for i := range perNode {
				for {
					seq := uint64(1)
					if head, err := s.AuditHead(ctx, "shared"); err == nil {
						seq = head.Seq + 1
					} else if !errors.Is(err, store.ErrNotFound) {
						t.Error(err)
						return
					}
					r := store.AuditRecord{Chain: "shared", Seq: seq, AgentID: fmt.Sprint(node), Reason: fmt.Sprint(i)}
					err := s.AppendAudit(ctx, []store.AuditRecord{r})
					if err == nil {
						break
					}
					if !errors.Is(err, store.ErrConflict) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	recs, err := a.QueryAudit(ctx, store.AuditQuery{Chain: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2*perNode {
		t.Fatalf("chain holds %d records, want %d", len(recs), 2*perNode)
	}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
}

// Blocked passes up to maxBlockedParams ids one parameter each and a
// longer list as one array: both find the revocation wherever it is in
// the list, and prefer it to an earlier suspension.
func TestBlockedShortAndLongLists(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if err := s.Suspend(ctx, store.Block{Tenant: "acme", ID: "id-0", Reason: "paused"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "id-last", Reason: "stolen"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 24, 25, 40} {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprint("id-", i)
		}
		want := store.Block{ID: "id-0", Kind: store.Suspended, Reason: "paused"}
		if n > 1 {
			ids[n-1] = "id-last"
			want = store.Block{ID: "id-last", Kind: store.Revoked, Reason: "stolen"}
		}
		b, blocked, err := s.Blocked(ctx, "acme", ids)
		if err != nil || !blocked || b.ID != want.ID || b.Kind != want.Kind || b.Reason != want.Reason {
			t.Errorf("%d ids: Blocked = %+v, %v, %v; want %+v", n, b, blocked, err, want)
		}
		if _, blocked, err := s.Blocked(ctx, "other", ids); err != nil || blocked {
			t.Errorf("%d ids in another tenant: blocked %v, %v", n, blocked, err)
		}
	}
}
