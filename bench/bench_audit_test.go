package main_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// BenchmarkAuditMode compares the two audit modes under 16 parallel
// callers, auditing to the store itself (SQLite, and PostgreSQL when
// AGENTTRUST_TEST_POSTGRES is set). The asynchronous case includes
// writing out its queue at the end, so both measure decisions that end
// up stored; the goal is durable >= 0.5x async in checks per second.
func BenchmarkAuditMode(b *testing.B) {
	ctx := context.Background()
	backends := []struct {
		name string
		open func(*testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store {
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres", openBenchPostgres},
	}
	for _, be := range backends {
		for _, mode := range []struct {
			name    string
			durable bool
		}{{"async", false}, {"durable", true}} {
			b.Run(be.name+"/"+mode.name, func(b *testing.B) {
				st := be.open(b)
				p, err := agenttrust.LoadPolicyFile("testdata/cedar-10.yaml")
				if err != nil {
					b.Fatal(err)
				}
				c, err := agenttrust.New(st, agenttrust.WithPolicy(p),
					agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}, Durable: mode.durable}))
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				req := transferRequest(42)
				if d, err := c.Check(ctx, req); err != nil || !d.Allowed() {
					b.Fatalf("Check = %v, %v", d.Effect, err)
				}
				b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if d, err := c.Check(ctx, req); !d.Allowed() {
							b.Fatal(d.Reason, err)
						}
					}
				})
				if err := c.SyncAudit(ctx); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
			})
		}
	}
}
