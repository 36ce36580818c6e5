package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust/store"
)

// TestTakeRateAsyncCommitStaysLocal: a take commits asynchronously, and
// the connection it ran on is left with synchronous commits for every
// other write of the store.
func TestTakeRateAsyncCommitStaysLocal(t *testing.T) {
	s, _, _ := openFresh(t, WithMaxConns(1))
	ctx := t.Context()
	r := store.RateTake{Tenant: "acme", Limit: "l", Key: "k", Interval: time.Second, Burst: 1, Now: time.Unix(1e9, 0)}
	for i, want := range []bool{true, false} {
		allowed, err := s.TakeRate(ctx, r)
		if err != nil || allowed != want {
			t.Fatalf("take %d: %v %v, want %v", i, allowed, err, want)
		}
		// The pool's one connection, the take's.
		var setting string
		if err := s.read(ctx, "show", func(ctx context.Context, c *pgx.Conn) error {
			return c.QueryRow(ctx, "SHOW synchronous_commit").Scan(&setting)
		}); err != nil {
			t.Fatal(err)
		}
		if setting != "on" {
			t.Fatalf("after take %d the connection has synchronous_commit %q, want on", i, setting)
		}
	}
}
