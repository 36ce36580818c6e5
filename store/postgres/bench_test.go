package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/postgres"
	"github.com/agenttrust/agenttrust/store/storetest"
)

// seedBlocks stores n blocks, half in tenant acme and half in globex, half
// revocations and half suspensions, as the memory store's benchmark does.
func seedBlocks(b *testing.B, s *postgres.Store, n int) {
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

// BenchmarkRoundTrip is the floor: one SELECT 1 on a dedicated pgx
// connection, prepared once.
func BenchmarkRoundTrip(b *testing.B) {
	url := testURL(b)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	var one int
	b.ReportAllocs()
	for b.Loop() {
		if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlocked(b *testing.B) {
	s, _ := newStore(b)
	seedBlocks(b, s, 10_000)
	ctx := context.Background()
	for _, bc := range []struct {
		name    string
		ids     []string
		blocked bool
	}{
		{"miss", []string{"agent-1", "session-1", "cred-1", "hop-1"}, false},
		{"revoked", []string{"agent-1", "session-1", "cred-1", "revoked-1234"}, true},
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

func BenchmarkBlockedParallel(b *testing.B) {
	s, _ := newStore(b)
	seedBlocks(b, s, 10_000)
	ctx := context.Background()
	ids := []string{"agent-1", "session-1", "cred-1", "hop-1"}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Blocked(ctx, "acme", ids); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkKeyByHash(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const keys = 1000
	for i := range keys {
		k := store.Key{
			ID: fmt.Sprint("key_", i), Tenant: "acme", AgentID: "agent-1",
			Hash: sha256.Sum256([]byte(fmt.Sprint("secret-", i))), Name: "bench",
			Roles: []string{"agent"}, Caveats: []string{"tool = files.read"}, CreatedAt: at,
		}
		if err := s.CreateKey(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	hit := sha256.Sum256([]byte("secret-567"))
	miss := sha256.Sum256([]byte("no such secret"))
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.KeyByHash(ctx, hit); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.KeyByHash(ctx, miss); err == nil {
				b.Fatal("found a key for a wrong hash")
			}
		}
	})
}

// BenchmarkAppendAudit appends batches of 100 records to one chain; ns/op
// is per batch.
func BenchmarkAppendAudit(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	const batch = 100
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]store.AuditRecord, batch)
	for i := range recs {
		recs[i] = store.AuditRecord{
			Chain: "node-1", ID: store.DecisionID{0x01, 0x90, byte(i)}, Tenant: "acme", AgentID: "agent-1",
			OnBehalfOf: "user-1", SessionID: "session-1", Tool: "files.read", Resource: fmt.Sprint("file/", i),
			Attributes: json.RawMessage(`{"size":1024,"path":"/home/user/report.pdf"}`), CredentialID: "tok_abc",
			HopIDs: []string{"hop_1", "hop_2"}, Effect: store.Allow, Rule: "read-own-files",
			Reason: "allowed by read-own-files", Latency: 1500 * time.Nanosecond,
		}
	}
	seq := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			seq++
			recs[i].Seq = seq
			recs[i].Time = at.Add(time.Duration(seq) * time.Millisecond)
		}
		if err := s.AppendAudit(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(seq), "ns/record")
}

// BenchmarkRevoke is one committed write, for comparison with a batch of
// AppendAudit: most of either is the commit.
func BenchmarkRevoke(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: fmt.Sprint("bench-", i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTakeRate measures a take of a cluster-wide rate limit.
func BenchmarkTakeRate(b *testing.B) {
	s, _ := newStore(b)
	storetest.BenchmarkRates(b, s)
}
