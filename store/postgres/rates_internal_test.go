package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust/store"
)

// TestTakeRateAsyncCommitStaysLocal: a take commits asynchronously, and
// the connection it ran on is left with synchronous commits for every
// other write of the store.
func TestTakeRateAsyncCommitStaysLocal(t *testing.T) {
	url := os.Getenv("AGENTTRUST_TEST_POSTGRES")
	if url == "" {
		t.Skip("set AGENTTRUST_TEST_POSTGRES to run the PostgreSQL tests")
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema := "agenttrust_test_" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			c.Close(context.Background())
		}
	})
	ctx := t.Context()
	s, err := Open(ctx, url, WithSchema(schema), WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
