package storetest

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// BenchmarkRates measures the takes of a store.ClusterLimiter, which a
// check makes once per cluster limit it matches. Each backend calls it
// from a benchmark of its own:
//
//   - allowed: takes that pass, over 1,024 keys, one at a time (a write
//     of the TAT each);
//   - refused: takes that are refused, on one key (no write);
//   - hot-key: takes that pass, all on one key, from GOMAXPROCS
//     goroutines at once (they queue on the key's row);
//   - parallel: takes that pass, each goroutine on keys of its own.
func BenchmarkRates(b *testing.B, l store.ClusterLimiter) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "agent-" + strconv.Itoa(i) + " tool"
	}
	// Far more burst than takes: every take passes.
	pass := store.RateTake{Tenant: "acme", Limit: "bench", Interval: time.Microsecond, Burst: 1 << 30, Now: now}
	must := func(b *testing.B, allowed bool, err error, want bool) {
		if err != nil {
			b.Fatal(err)
		}
		if allowed != want {
			b.Fatalf("take allowed %v, want %v", allowed, want)
		}
	}
	b.Run("allowed", func(b *testing.B) {
		r := pass
		i := 0
		for b.Loop() {
			r.Key = keys[i%len(keys)]
			i++
			ok, err := l.TakeRate(ctx, r)
			must(b, ok, err, true)
		}
	})
	b.Run("refused", func(b *testing.B) {
		r := store.RateTake{Tenant: "acme", Limit: "bench-refused", Key: "k", Interval: time.Hour, Burst: 1, Now: now}
		_, _ = l.TakeRate(ctx, r)
		for b.Loop() {
			ok, err := l.TakeRate(ctx, r)
			must(b, ok, err, false)
		}
	})
	b.Run("hot-key", func(b *testing.B) {
		r := pass
		r.Limit, r.Key = "bench-hot", "k"
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ok, err := l.TakeRate(ctx, r)
				must(b, ok, err, true)
			}
		})
	})
	b.Run("parallel", func(b *testing.B) {
		var worker atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			r := pass
			r.Limit = "bench-parallel-" + strconv.FormatInt(worker.Add(1), 10)
			i := 0
			for pb.Next() {
				r.Key = keys[i%len(keys)]
				i++
				ok, err := l.TakeRate(ctx, r)
				must(b, ok, err, true)
			}
		})
	})
}
