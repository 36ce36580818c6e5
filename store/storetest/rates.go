package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// The ClusterLimits cases run on stores that implement
// store.ClusterLimiter and are skipped on the others.

func rateCases() []testCase {
	return []testCase{
		{name: "Burst", run: testRateBurst},
		{name: "RefusalTakesNothing", run: testRateRefusalTakesNothing},
		{name: "Expiry", run: testRateExpiry},
		{name: "SeparateKeys", run: testRateSeparateKeys},
		{name: "NewParameters", run: testRateNewParameters},
		{name: "Prune", run: testRatePrune},
		{name: "Concurrent", run: testRateConcurrent},
		{name: "ConcurrentOverTime", run: testRateConcurrentOverTime},
		{name: "Invalid", run: testRateInvalid},
		{name: "CancelledContext", run: testRateCancelledContext},
		{name: "Closed", run: testRateClosed},
	}
}

// limiter returns e.s as a ClusterLimiter, or skips t.
func limiter(t *testing.T, e *env) store.ClusterLimiter {
	t.Helper()
	l, isLimiter := e.s.(store.ClusterLimiter)
	if !isLimiter {
		t.Skip("storetest: the store is not a store.ClusterLimiter")
	}
	return l
}

// take is a take of limit "l1" on key "agent-1 tool" of acme, one per
// second with a burst of 3, at now.
func take(now time.Time) store.RateTake {
	return store.RateTake{Tenant: acme, Limit: "l1", Key: "agent-1 tool", Interval: time.Second, Burst: 3, Now: now}
}

// takes runs n takes of r and returns how many were allowed.
func takes(t *testing.T, l store.ClusterLimiter, r store.RateTake, n int) int {
	t.Helper()
	allowed := 0
	for range n {
		okTake, err := l.TakeRate(t.Context(), r)
		ok(t, err, "TakeRate")
		if okTake {
			allowed++
		}
	}
	return allowed
}

func wantTakes(t *testing.T, l store.ClusterLimiter, r store.RateTake, n, want int, what string) {
	t.Helper()
	if got := takes(t, l, r, n); got != want {
		t.Errorf("%s: %d of %d takes allowed, want %d", what, got, n, want)
	}
}

func testRateBurst(t *testing.T, e *env) {
	l := limiter(t, e)
	wantTakes(t, l, take(at(0)), 5, 3, "a burst of 3 at once")
	wantTakes(t, l, take(at(0).Add(999*time.Millisecond)), 1, 0, "just under an interval later")
	wantTakes(t, l, take(at(1)), 2, 1, "one interval later")
	wantTakes(t, l, take(at(3)), 3, 2, "two intervals later")
}

// A refused take leaves the TAT as it was: however many are refused, one
// is allowed an interval later.
func testRateRefusalTakesNothing(t *testing.T, e *env) {
	l := limiter(t, e)
	wantTakes(t, l, take(at(0)), 3, 3, "the burst")
	wantTakes(t, l, take(at(0)), 50, 0, "refused while the burst is spent")
	wantTakes(t, l, take(at(1)), 3, 1, "an interval later")
}

// Once Burst intervals have passed the bucket is full again.
func testRateExpiry(t *testing.T, e *env) {
	l := limiter(t, e)
	wantTakes(t, l, take(at(0)), 3, 3, "the burst")
	wantTakes(t, l, take(at(3)), 4, 3, "a full burst three intervals later")
	wantTakes(t, l, take(at(100)), 4, 3, "a full burst long after")
}

// Tenant, limit and key each name state of their own.
func testRateSeparateKeys(t *testing.T, e *env) {
	l := limiter(t, e)
	wantTakes(t, l, take(at(0)), 3, 3, "the burst")
	for _, r := range []store.RateTake{
		{Tenant: globex, Limit: "l1", Key: "agent-1 tool"},
		{Tenant: acme, Limit: "l2", Key: "agent-1 tool"},
		{Tenant: acme, Limit: "l1", Key: "agent-2 tool"},
		{Tenant: acme, Limit: "l1", Key: ""},
		{Tenant: "", Limit: "l1", Key: "agent-1 tool"},
		{Tenant: acme, Limit: "l1", Key: "agent-1 tool2"},
	} {
		r.Interval, r.Burst, r.Now = time.Second, 3, at(0)
		wantTakes(t, l, r, 4, 3, fmt.Sprintf("%q/%q/%q", r.Tenant, r.Limit, r.Key))
	}
	wantTakes(t, l, take(at(0)), 1, 0, "the first key, still spent")
}

// Interval and Burst come with each take and apply to the stored TAT.
func testRateNewParameters(t *testing.T, e *env) {
	l := limiter(t, e)
	wantTakes(t, l, take(at(0)), 3, 3, "the burst") // TAT at(3)
	wider := take(at(0))
	wider.Burst = 5 // allowed while TAT - now <= 4s
	wantTakes(t, l, wider, 5, 2, "a burst raised to 5")
	slower := take(at(10))
	slower.Interval, slower.Burst = time.Minute, 1
	wantTakes(t, l, slower, 2, 1, "one a minute")
	wantTakes(t, l, take(at(11)), 1, 0, "one a second again, while the minute's TAT holds")
}

// PruneRates deletes exactly the tenant's state whose TAT is past, which
// changes no decision.
func testRatePrune(t *testing.T, e *env) {
	l := limiter(t, e)
	ctx := t.Context()
	prune := func(tenant string, now time.Time, want int, what string) {
		t.Helper()
		n, err := l.PruneRates(ctx, tenant, now)
		ok(t, err, "PruneRates "+what)
		if n != want {
			t.Errorf("PruneRates %s = %d, want %d", what, n, want)
		}
	}
	prune(acme, at(0), 0, "of an empty store")
	short := take(at(0)) // TAT at(1)
	short.Key = "short"
	wantTakes(t, l, short, 1, 1, "one take")
	wantTakes(t, l, take(at(0)), 3, 3, "the burst") // TAT at(3)
	other := take(at(0))
	other.Tenant = globex
	wantTakes(t, l, other, 2, 2, "two takes of globex") // TAT at(2)

	prune(acme, at(1).Add(-time.Nanosecond), 0, "before any TAT")
	prune("", at(1000), 0, "of the empty tenant, which holds nothing")
	prune(globex, at(2), 1, "of globex at its TAT (a TAT at now is past)")
	prune(acme, at(2), 1, "of acme at the globex TAT")
	wantTakes(t, l, take(at(2)), 3, 2, "the state that was kept") // TAT at(3), then 4, 5
	wantTakes(t, l, other, 4, 3, "a pruned key, as new")          // at(0) again: the TAT is gone
	prune(acme, at(1000), 1, "of every acme row")
	prune(globex, at(1000), 1, "of every globex row")
}

// Of concurrent takes at one instant, exactly Burst pass: no two takes
// read the same TAT.
func testRateConcurrent(t *testing.T, e *env) {
	l := limiter(t, e)
	r := take(at(0))
	r.Burst = goroutines * perWorker / 3
	var allowed atomic.Int64
	each(func(g, i int) {
		okTake, err := l.TakeRate(t.Context(), r)
		if err != nil {
			t.Errorf("TakeRate: %v", err)
		}
		if okTake {
			allowed.Add(1)
		}
	})
	if got := allowed.Load(); got != int64(r.Burst) {
		t.Errorf("%d concurrent takes allowed, want exactly the burst, %d", got, r.Burst)
	}
}

// Concurrent takes with time moving on: workers take on two keys at
// instants spread over 10 intervals, and each key allows exactly its
// burst plus one per interval elapsed (every instant after the first
// sees the bucket empty, as takes outnumber the rate many times over).
func testRateConcurrentOverTime(t *testing.T, e *env) {
	l := limiter(t, e)
	const burst, steps = 5, 10
	var mu sync.Mutex
	allowed := map[string]int{}
	each(func(g, i int) {
		r := take(at(0).Add(time.Duration(i%steps) * 100 * time.Millisecond))
		r.Interval, r.Burst = 100*time.Millisecond, burst
		r.Key = []string{"k1", "k2"}[g%2]
		okTake, err := l.TakeRate(t.Context(), r)
		if err != nil {
			t.Errorf("TakeRate: %v", err)
		}
		if okTake {
			mu.Lock()
			allowed[r.Key]++
			mu.Unlock()
		}
	})
	// At most burst + (steps-1) pass, the last instant being steps-1
	// intervals after the first: each allowed take moves the TAT an
	// interval on, and the TAT a take sees is at most (burst-1)
	// intervals ahead of it. Fewer pass when takes at later instants
	// come first; never more.
	for _, k := range []string{"k1", "k2"} {
		if got := allowed[k]; got > burst+steps-1 || got < 1 {
			t.Errorf("key %s: %d takes allowed over %d intervals with burst %d, want 1 to %d", k, got, steps-1, burst, burst+steps-1)
		}
	}
}

func testRateInvalid(t *testing.T, e *env) {
	l := limiter(t, e)
	for _, c := range []struct {
		name string
		edit func(r *store.RateTake)
	}{
		{"empty limit", func(r *store.RateTake) { r.Limit = "" }},
		{"zero interval", func(r *store.RateTake) { r.Interval = 0 }},
		{"negative interval", func(r *store.RateTake) { r.Interval = -time.Second }},
		{"zero burst", func(r *store.RateTake) { r.Burst = 0 }},
		{"window too long", func(r *store.RateTake) { r.Interval, r.Burst = store.MaxRateWindow/2+1, 2 }},
		{"zero now", func(r *store.RateTake) { r.Now = time.Time{} }},
		{"now past 2200", func(r *store.RateTake) { r.Now = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"NUL in key", func(r *store.RateTake) { r.Key = "a\x00b" }},
		{"invalid UTF-8 in tenant", func(r *store.RateTake) { r.Tenant = "\xff" }},
		{"long key", func(r *store.RateTake) { r.Key = strings.Repeat("k", store.MaxRateKey+1) }},
	} {
		r := take(at(0))
		c.edit(&r)
		_, err := l.TakeRate(t.Context(), r)
		isErr(t, err, store.ErrInvalid, "TakeRate with "+c.name)
	}
	// Nothing was taken.
	wantTakes(t, l, take(at(0)), 4, 3, "the burst after invalid takes")
	// The bounds themselves are valid.
	edge := take(at(0))
	edge.Key, edge.Interval, edge.Burst = strings.Repeat("k", store.MaxRateKey), store.MaxRateWindow/2, 2
	wantTakes(t, l, edge, 3, 2, "a take at the bounds")
}

func testRateClosed(t *testing.T, e *env) {
	l := limiter(t, e)
	ok(t, e.s.Close(), "Close")
	_, err := l.TakeRate(context.Background(), take(at(0)))
	isErr(t, err, store.ErrClosed, "TakeRate after Close")
	_, err = l.PruneRates(context.Background(), acme, at(0))
	isErr(t, err, store.ErrClosed, "PruneRates after Close")
}

func testRateCancelledContext(t *testing.T, e *env) {
	l := limiter(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.TakeRate(ctx, take(at(0)))
	isErr(t, err, context.Canceled, "TakeRate with a cancelled context")
	_, err = l.PruneRates(ctx, acme, at(0))
	isErr(t, err, context.Canceled, "PruneRates with a cancelled context")
	wantTakes(t, l, take(at(0)), 4, 3, "the burst after cancelled takes")
}
