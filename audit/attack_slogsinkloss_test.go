package audit_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackSlogSinkLosesRecords: SlogSink logged through slog.Logger,
// which discards what its handler returns, and wrote nothing at all when
// the logger was set above Info; either way Write said the records were
// written. With the log as the trail, a disk full, a closed pipe or a
// log level turned up (--log-level warn) lost every decision while
// durable checks, told their record was written, went on allowing. A
// record the handler does not take is a failed write, as for JSONSink:
// the client retries it and, past its bound, denies.
func TestAttackSlogSinkLosesRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		sink agenttrust.AuditSink
	}{
		{"text handler, writer failing", audit.NewSlogSink(slog.New(slog.NewTextHandler(failWriter{}, nil)))},
		{"json handler, writer failing", audit.NewSlogSink(slog.New(slog.NewJSONHandler(failWriter{}, nil)))},
		{"logger above info", audit.NewSlogSink(slog.New(slog.NewJSONHandler(new(discard), &slog.HandlerOptions{Level: slog.LevelWarn})))},
		{"control: JSONSink, writer failing", audit.NewJSONSink(failWriter{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
			if err != nil {
				t.Fatal(err)
			}
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{
				Durable: true, Sinks: []agenttrust.AuditSink{tc.sink}, StuckAfter: 200 * time.Millisecond, DrainTimeout: 100 * time.Millisecond}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			d, err := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "pay", Attributes: map[string]any{"amount": 10}})
			if d.Allowed() || d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Fatalf("durable check whose record the sink lost: %v, %v; want a Deny with ErrAuditUnavailable", d.Effect, err)
			}
		})
	}
}

// discard takes every write.
type discard struct{ n int }

func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
