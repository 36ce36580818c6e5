package agenttrust_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// loggerChildEnv names, in a child test process, the case of
// TestAttackLoggerPanic it runs.
const loggerChildEnv = "AGENTTRUST_TEST_LOGGER_PANIC"

// panicHandler is a slog.Handler that panics on every record: a log
// shipper with a bug, a handler writing to a closed pipe that panics.
type panicHandler struct{}

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("logger exploded") }
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h panicHandler) WithGroup(string) slog.Handler           { return h }

// TestAttackLoggerPanic: the logger given to WithLogger is an injected
// part like the store or the clock, and the client logs from its own
// goroutines (the audit flusher retrying a sink, an approval notifier
// that failed) and from calls (an observer that panicked). A handler
// that panics there ended the process, losing every audit record still
// queued, or turned a recorded check into a panic in its caller. Each
// case runs in a child process, which must exit cleanly with every
// record written.
func TestAttackLoggerPanic(t *testing.T) {
	logger := agenttrust.WithLogger(slog.New(panicHandler{}))
	cases := map[string]func(t *testing.T){
		// The flusher logs a sink's failed write before it retries.
		"audit sink retried": func(t *testing.T) {
			sink := newOutageSink()
			sink.down.Store(true)
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), logger,
				agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(context.Background(), charge(1))
			if err != nil || !d.Allowed() {
				t.Fatalf("Check = %v, %v", d.Effect, err)
			}
			<-sink.failed
			<-sink.failed // the second write follows the logged failure of the first
			sink.down.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := c.SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(sink.records(), func(r agenttrust.AuditRecord) bool { return r.ID == d.ID }) {
				t.Fatalf("the record of %v was lost", d.ID)
			}
		},
		// The notifier's goroutine logs its error.
		"approval notifier failed": func(t *testing.T) {
			notified := make(chan struct{})
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), logger,
				agenttrust.WithNotifier(func(context.Context, agenttrust.Approval) error {
					defer close(notified)
					return errors.New("chat down")
				}))
			if err != nil {
				t.Fatal(err)
			}
			if d, err := c.Check(context.Background(), charge(100)); err != nil || d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("Check = %v, %v", d.Effect, err)
			}
			<-notified
			time.Sleep(200 * time.Millisecond) // the notifier's goroutine logs after it returns
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		},
		// A check's observer panic is logged in the caller's goroutine.
		"observer panicked in Check": func(t *testing.T) {
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), logger,
				agenttrust.WithObserver(&panicObserver{check: true}))
			if err != nil {
				t.Fatal(err)
			}
			var d agenttrust.Decision
			within(t, "Check", func() { d, err = c.Check(context.Background(), charge(1)) })
			if err != nil || !d.Allowed() {
				t.Fatalf("Check = %v, %v", d.Effect, err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		},
	}
	inChildren(t, "TestAttackLoggerPanic", loggerChildEnv, cases)
}
