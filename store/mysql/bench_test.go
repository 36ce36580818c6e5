package mysql_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/mysql"
	"github.com/agenttrust/agenttrust/store/storetest"
)

// seedBlocks stores n blocks, half in tenant acme and half in globex, half
// revocations and half suspensions, as the PostgreSQL store's benchmark
// does.
func seedBlocks(b *testing.B, s *mysql.Store, n int) {
	b.Helper()
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n/4; i += workers {
				for _, tenant := range []string{"acme", "globex"} {
					if err := s.Revoke(ctx, store.Block{Tenant: tenant, ID: fmt.Sprint("revoked-", i), CreatedAt: at}); err != nil {
						b.Error(err)
						return
					}
					if err := s.Suspend(ctx, store.Block{Tenant: tenant, ID: fmt.Sprint("suspended-", i), CreatedAt: at}); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// BenchmarkRoundTrip is the floor: one SELECT 1 through database/sql and
// the driver, prepared once, on one connection.
func BenchmarkRoundTrip(b *testing.B) {
	_, dsn := newStore(b)
	db := rawDB(b, dsn)
	db.SetMaxOpenConns(1)
	st, err := db.Prepare("SELECT 1")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var one int
	b.ReportAllocs()
	for b.Loop() {
		if err := st.QueryRow().Scan(&one); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlocked(b *testing.B) {
	s, _ := newStore(b)
	seedBlocks(b, s, 2_000)
	ctx := context.Background()
	for _, bc := range []struct {
		name    string
		ids     []string
		blocked bool
	}{
		{"miss", []string{"agent-1", "session-1", "cred-1", "hop-1"}, false},
		{"revoked", []string{"agent-1", "session-1", "cred-1", "revoked-123"}, true},
		{"suspended", []string{"agent-1", "suspended-7", "cred-1", "hop-1"}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, blocked, err := s.Blocked(ctx, "acme", bc.ids)
				if err != nil || blocked != bc.blocked {
					b.Fatalf("Blocked = %v, %v", blocked, err)
				}
			}
		})
	}
}

func BenchmarkRevoke(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: fmt.Sprint("tok-", i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTakeRate measures a take of a cluster-wide rate limit.
func BenchmarkTakeRate(b *testing.B) {
	s, _ := newStore(b)
	storetest.BenchmarkRates(b, s)
}
