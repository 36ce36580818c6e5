package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/mysql"
)

// TestAttackWatchAfterStoreWentBack: the database is restored from a
// backup, or fails over to a replica that had not received the last
// transactions, under a running node: the change counter goes back, and
// the changes written afterwards reuse the sequence numbers the node's
// Watch has already read past. A notify-mode node must not miss them
// (keeping a revoked credential alive) while its Marks keep proving its
// view fresh: each revocation made after the restore is delivered before
// a later Mark, or the feed breaks with store.ErrUnavailable, so that
// the node rereads the state.
func TestAttackWatchAfterStoreWentBack(t *testing.T) {
	const tenant = "t1"
	cases := []struct {
		name string
		lost int // changes written after the backup, gone with the restore
		redo func(ctx context.Context, s *mysql.Store) ([]store.Change, error)
	}{
		{name: "one revocation after the restore", lost: 3, redo: revocations(tenant, "key_after", 1)},
		{name: "as many revocations as were lost", lost: 3, redo: revocations(tenant, "key_after", 3)},
		{name: "more revocations than were lost", lost: 3, redo: revocations(tenant, "key_after", 5)},
		{name: "a policy saved after the restore", lost: 2, redo: func(ctx context.Context, s *mysql.Store) ([]store.Change, error) {
			if _, err := s.PutPolicy(ctx, store.PolicyDoc{Tenant: tenant, Format: "yaml", Body: []byte("rules: []\n"), UpdatedAt: time.Now()}, 0); err != nil {
				return nil, err
			}
			return []store.Change{{Kind: store.ChangePolicy, Tenant: tenant}}, nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dsn := freshDatabase(t, testDSN(t))
			ctx := t.Context()
			writer := open(t, dsn)
			node := open(t, dsn)

			// Before the backup.
			if _, err := revocations(tenant, "key_before", 2)(ctx, writer); err != nil {
				t.Fatal(err)
			}
			var backup int64
			if err := rawDB(t, dsn).QueryRowContext(ctx, "SELECT n FROM agenttrust_change_seq").Scan(&backup); err != nil {
				t.Fatal(err)
			}

			got := make(chan store.Change, 256)
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- node.Watch(wctx, func(c store.Change) { got <- c }) }()
			waitMark(t, node, got, done, "start")

			// After the backup: the node sees these.
			if _, err := revocations(tenant, "key_lost", tc.lost)(ctx, writer); err != nil {
				t.Fatal(err)
			}
			waitMark(t, node, got, done, "before-restore")

			// The restore: every table as it was at the backup.
			db := rawDB(t, dsn)
			for _, stmt := range []string{
				fmt.Sprintf("UPDATE agenttrust_change_seq SET n = %d", backup),
				fmt.Sprintf("DELETE FROM agenttrust_changes WHERE seq > %d", backup),
				"DELETE FROM agenttrust_blocks WHERE id LIKE 'key_lost%'",
			} {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}

			want, err := tc.redo(ctx, writer)
			if err != nil {
				t.Fatal(err)
			}
			// A Mark after the new changes: they come first, or the feed
			// breaks.
			if err := node.Mark(ctx, "after-restore"); err != nil {
				t.Fatal(err)
			}
			seen := map[store.Change]bool{}
			deadline := time.After(10 * time.Second)
			for {
				select {
				case c := <-got:
					if c.Kind != store.ChangeMark {
						seen[c] = true
						continue
					}
					if c.ID != "after-restore" {
						continue
					}
					for _, w := range want {
						if !seen[w] {
							t.Fatalf("the Mark after the restore was delivered, but not %+v, which was committed before it: the node's view is proven fresh without it", w)
						}
					}
					return
				case err := <-done:
					if !errors.Is(err, store.ErrUnavailable) {
						t.Fatalf("Watch returned %v, want an error wrapping store.ErrUnavailable", err)
					}
					t.Logf("the feed broke: %v", err)
					return // the node rereads
				case <-deadline:
					t.Fatal("neither the Mark nor an error within 10s")
				}
			}
		})
	}
}

// revocations returns a func that revokes n ids of tenant named after
// prefix, and the changes they make.
func revocations(tenant, prefix string, n int) func(ctx context.Context, s *mysql.Store) ([]store.Change, error) {
	return func(ctx context.Context, s *mysql.Store) ([]store.Change, error) {
		var out []store.Change
		for i := range n {
			id := fmt.Sprintf("%s_%d", prefix, i)
			if err := s.Revoke(ctx, store.Block{Tenant: tenant, ID: id, Kind: store.Revoked, CreatedAt: time.Now()}); err != nil {
				return nil, err
			}
			out = append(out, store.Change{Kind: store.ChangeBlock, Tenant: tenant, ID: id})
		}
		return out, nil
	}
}

// waitMark sends a Mark through node and waits for it.
func waitMark(t *testing.T, node *mysql.Store, got <-chan store.Change, done <-chan error, token string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		tok := fmt.Sprint(token, "-", i)
		if err := node.Mark(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case c := <-got:
				if c.Kind == store.ChangeMark && c.ID == tok {
					return
				}
				continue
			case err := <-done:
				t.Fatalf("Watch returned %v before the mark %s", err, token)
			case <-tick.C:
			case <-deadline:
				t.Fatalf("mark %s not delivered", token)
			}
			break
		}
	}
}
