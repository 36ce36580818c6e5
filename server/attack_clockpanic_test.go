package server

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestAttackClockPanicServer: the clock given to WithClock is an injected
// part, and the server reads it from a goroutine of its own, the idle
// tenant sweep, where a panic has no caller to recover it and ends the
// process. A clock that panics must not end the server: the sweep goes on
// on the time package's clock, says so in the log, and the idle tenant
// still closes.
func TestAttackClockPanicServer(t *testing.T) {
	const idle = 10 * time.Minute
	var boom atomic.Bool
	var logs syncBuffer
	e := newEnv(t, WithTenantIdle(idle), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	// The env's own clock, behind one that panics once armed: set after
	// newEnv's WithClock, so this one wins.
	fake := e.clock
	if err := WithClock(func() time.Time {
		if boom.Load() {
			panic("clock exploded")
		}
		return fake.Now()
	})(e.srv); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.srv.Client(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	e.unpin()
	// The fake clock stands still, so only the time package's clock, an
	// idle time from now, can find the tenant idle: move the tenant's last
	// use back instead.
	for name, tn := range *e.srv.tenants.Load() {
		if name == "acme" {
			tn.lastUsed.Store(time.Now().Add(-2 * idle).UnixNano())
		}
	}
	boom.Store(true)
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		e.srv.evictIdleOnce()
	}()
	if p := <-done; p != nil {
		t.Fatalf("the idle sweep panicked: %v", p)
	}
	if e.isOpen("acme") {
		t.Fatal("the idle tenant was not closed")
	}
	logs.mu.Lock()
	got := logs.b.String()
	logs.mu.Unlock()
	if !strings.Contains(got, "clock") || !strings.Contains(got, "panicked") {
		t.Errorf("the log does not say the clock panicked: %q", got)
	}
	boom.Store(false)
}
