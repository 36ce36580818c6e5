package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// An exclusive Store answers Blocked from memory, so a second Store
// writing the same file would go unseen: a revocation made through it
// would not stop the first one's checks. The lock keeps the second Store
// from opening at all, in either mode, while the first is open, and a
// first Store cannot be exclusive while another has the file.
func TestAttackExclusiveStaleView(t *testing.T) {
	ctx := context.Background()
	a, path := open(t, sqlite.WithExclusive())
	for _, opts := range [][]sqlite.Option{nil, {sqlite.WithExclusive()}} {
		b, err := sqlite.Open(ctx, path, opts...)
		if err == nil {
			// The lock failed: show what it costs.
			rerr := b.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok-1", Reason: "stolen", CreatedAt: time.Unix(1, 0)})
			_, blocked, berr := a.Blocked(ctx, "acme", []string{"bot", "tok-1"})
			_ = b.Close()
			t.Fatalf("a second Store opened the file of an exclusive one (revoke %v; first Store sees the revocation: %v, %v)", rerr, blocked, berr)
		}
		if !errors.Is(err, sqlite.ErrInUse) {
			t.Fatalf("second Open (%d options): %v, want ErrInUse", len(opts), err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Once closed, the file opens again; and a shared Store keeps an
	// exclusive one out.
	shared, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer shared.Close()
	if x, err := sqlite.Open(ctx, path, sqlite.WithExclusive()); !errors.Is(err, sqlite.ErrInUse) {
		if x != nil {
			x.Close()
		}
		t.Fatalf("exclusive Open beside a shared Store: %v, want ErrInUse", err)
	}
	other, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("two shared Stores: %v", err)
	}
	other.Close()
}

// The view answers as the table does: after concurrent revocations,
// suspensions, resumptions and prunes, every Blocked of the exclusive
// Store equals that of a shared Store opened on the file afterwards,
// which reads the table.
func TestExclusiveViewMatchesTable(t *testing.T) {
	ctx := context.Background()
	a, path := open(t, sqlite.WithExclusive())
	base := time.Unix(1_700_000_000, 0).UTC()
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = fmt.Sprintf("id-%d", i)
	}
	tenants := []string{"acme", "globex"}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 150 {
				tn, id := tenants[r.IntN(2)], ids[r.IntN(len(ids))]
				at := base.Add(time.Duration(i) * time.Second)
				var err error
				switch r.IntN(5) {
				case 0, 1:
					var exp time.Time
					if r.IntN(2) == 0 {
						exp = at.Add(time.Duration(r.IntN(100)) * time.Second)
					}
					err = a.Revoke(ctx, store.Block{Tenant: tn, ID: id, Reason: "r", CreatedAt: at, ExpiresAt: exp})
				case 2:
					err = a.Suspend(ctx, store.Block{Tenant: tn, ID: id, Reason: fmt.Sprint("s", i), CreatedAt: at})
				case 3:
					if err = a.Resume(ctx, tn, id); errors.Is(err, store.ErrNotFound) {
						err = nil
					}
				case 4:
					_, err = a.PruneRevocations(ctx, at.Add(time.Duration(r.IntN(60))*time.Second))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	type answer struct {
		b  store.Block
		ok bool
	}
	ask := func(s *sqlite.Store) map[string]answer {
		out := map[string]answer{}
		for _, tn := range tenants {
			for i := range ids {
				// Pairs and triples in both orders exercise the order rule.
				q := []string{ids[i], ids[(i+7)%len(ids)], ids[(i+3)%len(ids)]}
				for _, set := range [][]string{q[:1], q, {q[2], q[1], q[0]}} {
					b, ok, err := s.Blocked(ctx, tn, set)
					if err != nil {
						t.Fatal(err)
					}
					out[fmt.Sprint(tn, set)] = answer{b, ok}
				}
			}
		}
		return out
	}
	fromView := ask(a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	shared, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	fromTable := ask(shared)
	blocked := 0
	for k, want := range fromTable {
		got := fromView[k]
		if got.ok != want.ok || !got.b.CreatedAt.Equal(want.b.CreatedAt) || !got.b.ExpiresAt.Equal(want.b.ExpiresAt) ||
			got.b.ID != want.b.ID || got.b.Kind != want.b.Kind || got.b.Reason != want.b.Reason || got.b.Tenant != want.b.Tenant {
			t.Errorf("Blocked%s: view %+v, table %+v", k, got, want)
		}
		if want.ok {
			blocked++
		}
	}
	if blocked == 0 || blocked == len(fromTable) {
		t.Fatalf("%d of %d lookups blocked: the mix tested nothing", blocked, len(fromTable))
	}
}

// A revocation that fails (another process holds SQLite's write lock past
// the busy timeout) leaves the view as the table is: the id is not
// revoked, and once the lock is gone a revocation takes effect at once.
func TestExclusiveViewAfterFailedWrite(t *testing.T) {
	ctx := context.Background()
	a, path := open(t, sqlite.WithExclusive(), sqlite.WithBusyTimeout(50*time.Millisecond))
	h, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	conn, err := h.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	b := store.Block{Tenant: "acme", ID: "tok-1", Reason: "stolen", CreatedAt: time.Unix(1, 0)}
	if err := a.Revoke(ctx, b); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Revoke under another's write lock: %v, want ErrUnavailable", err)
	}
	if _, blocked, err := a.Blocked(ctx, "acme", []string{"tok-1"}); err != nil || blocked {
		t.Fatalf("after a failed Revoke: blocked %v, %v; want not blocked", blocked, err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := a.Revoke(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, blocked, err := a.Blocked(ctx, "acme", []string{"bot", "tok-1"}); err != nil || !blocked || got.ID != "tok-1" {
		t.Fatalf("after Revoke: %+v %v %v", got, blocked, err)
	}
}
