package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust/store"
)

// hookTx calls before ahead of each Query of its transaction.
type hookTx struct {
	pgx.Tx
	before func(n int)
	n      int
}

func (h *hookTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	h.n++
	h.before(h.n)
	return h.Tx.Query(ctx, sql, args...)
}

// A locking read of a chain that finds none of its rows, then waits on
// the root's row while the lock's holder carves a new child: the child
// is not in the waiting statement's snapshot, yet the root it returns
// already counts the child's carve-out. LockRows must read the child
// again rather than report it missing, which the spend would take as a
// second carve, and refuse.
func TestLockRowsSeesRowsCommittedWhileWaiting(t *testing.T) {
	_, url, schema := openFresh(t) // migrated, so the budgets table exists
	ctx := t.Context()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	conn := func() *pgx.Conn {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	reader, other, watcher := conn(), conn(), conn()
	readerPID := reader.PgConn().PID()

	now := time.Unix(1_800_000_000, 0).UTC()
	root := store.BudgetRow{Tenant: "acme", Node: "root", Name: "calls", Path: "/root/", Limit: 1000, CreatedAt: now}
	child := store.BudgetRow{Tenant: "acme", Node: "child", Name: "calls", Holder: "root", Path: "/root/child/", Depth: 1, Limit: 100, CreatedAt: now}
	keys := []store.BudgetKey{root.Key(), child.Key()}

	tx, err := reader.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	committed := make(chan error, 1)
	hook := &hookTx{Tx: tx, before: func(n int) {
		if n != 2 {
			return
		}
		// Between the first read (which found nothing) and the second:
		// the root is committed, and another transaction locks it and
		// carves the child, committing only once the second read waits.
		if err := pgx.BeginFunc(ctx, other, func(otx pgx.Tx) error {
			return (budgetTx{otx}).Write(ctx, []store.BudgetWrite{{Row: root, Insert: true}})
		}); err != nil {
			t.Fatal(err)
		}
		otx, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (budgetTx{otx}).LockRows(ctx, "acme", keys[:1]); err != nil {
			t.Fatal(err)
		}
		carved := root
		carved.Carved = child.Limit
		if err := (budgetTx{otx}).Write(ctx, []store.BudgetWrite{{Row: child, Insert: true}, {Row: carved}}); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				var waiting bool
				err := watcher.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)`, readerPID).Scan(&waiting)
				if err != nil || waiting {
					if err == nil {
						err = otx.Commit(ctx)
					}
					committed <- err
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}}
	rows, err := budgetTx{hook}.LockRows(ctx, "acme", keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	if rows[0].Carved != child.Limit {
		t.Fatalf("root read as %+v, want the carve committed while waiting", rows[0])
	}
	if rows[1].Node != "child" || rows[1].Limit != child.Limit {
		t.Fatalf("the child committed while the read waited is reported missing: %+v", rows[1])
	}
}
