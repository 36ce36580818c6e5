package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// TestTakeRateRestoresSync: a take commits with synchronous=NORMAL, and
// the write connection is back to its own mode (FULL: 2, or NORMAL: 1
// with WithUnsafeNormalSync) for every other write.
func TestTakeRateRestoresSync(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want int
	}{
		{"full", nil, 2},
		{"normal", []Option{WithUnsafeNormalSync()}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(t.TempDir(), "rates.db"), tc.opts...)
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
				var mode int
				if err := s.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&mode); err != nil {
					t.Fatal(err)
				}
				if mode != tc.want {
					t.Fatalf("after take %d the write connection has synchronous %d, want %d", i, mode, tc.want)
				}
			}
			if _, err := s.TakeRate(ctx, r); err != nil {
				t.Fatal(err)
			}
		})
	}
}
