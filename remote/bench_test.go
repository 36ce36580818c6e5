package remote_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/remote"
)

// BenchmarkRemoteCheck drives the real server over loopback HTTP with the
// Go client, keep-alive and parallel callers, and reports checks per
// second and the p99 latency. The bar: at least 20,000 checks/s on a
// 2-core machine.
func BenchmarkRemoteCheck(b *testing.B) {
	d := deploy(b)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	c, err := remote.New(d.url, d.keys["bot"], remote.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := agenttrust.Request{Tool: "docs.read", Resource: "doc-1"}
	if dec, err := c.Check(ctx, req); err != nil || !dec.Allowed() {
		b.Fatalf("warm-up: %v %v", dec.Effect, err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if dec, _ := c.Check(ctx, req); !dec.Allowed() {
				b.Error(dec.Reason)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "checks/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
