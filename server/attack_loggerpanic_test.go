package server

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// panicHandler is a slog.Handler that panics on every record.
type panicHandler struct{}

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("logger exploded") }
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h panicHandler) WithGroup(string) slog.Handler           { return h }

// TestAttackLoggerPanicServer: the logger given to WithLogger is an
// injected part, and the server logs from a goroutine of its own: the
// idle-tenant sweeper logs each tenant it closes. A handler that panics
// there ended the process (the ticker's goroutine has no caller to
// recover it), and, had anything recovered it, left the tenant marked
// as closing for good, so every later request for it waited forever.
// The sweep must complete, and the tenant must open again.
func TestAttackLoggerPanicServer(t *testing.T) {
	const idle = 10 * time.Minute
	e := newEnv(t, WithTenantIdle(idle), WithLogger(slog.New(panicHandler{})))
	ctx := context.Background()
	if _, err := e.srv.Client(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	e.unpin()
	e.clock.Advance(2 * idle)
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
	opened := make(chan error, 1)
	go func() {
		_, err := e.srv.Client(ctx, "acme")
		opened <- err
	}()
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("reopening the tenant: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reopening the tenant still waits after 5s on a close the panic left half done")
	}
}
