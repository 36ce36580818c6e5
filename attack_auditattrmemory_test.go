package agenttrust_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackAuditQueueHoldsAttributes: an audit record keeps at most 16
// KiB of a request's attributes (past that, {"_truncated":true}), but the
// queue held the attributes themselves until the flusher encoded them,
// and its spare capacity kept them after: a megabyte string, or a nested
// value of a megabyte, sent as an attribute (the server takes bodies of
// up to 1 MiB) was held whole for each record queued, up to the queue's
// 65,536, while a sink was slow, and stayed held once written, until
// later checks overwrote its slot. An agent sending large attributes
// while the audit lagged made the process hold a megabyte per check
// without bound. Attributes larger than a record keeps are now encoded,
// redacted and cut when queued, so the queue holds no more of a request
// than its record does; what the records say is unchanged.
func TestAttackAuditQueueHoldsAttributes(t *testing.T) {
	const (
		n    = 24      // checks queued while the sink hangs
		size = 1 << 20 // bytes of attributes each
		bar  = 6 << 20 // live heap they may add, queued or written
	)
	big := func(i int) map[string]any {
		return map[string]any{"amount": 5, "body": strings.Repeat(string(rune('a'+i%26)), size)}
	}
	tests := []struct {
		name  string
		attrs func(i int) map[string]any
		want  string // the attributes a record keeps
	}{
		{"large string", big, `{"_truncated":true}`},
		{"large nested value", func(i int) map[string]any {
			return map[string]any{"amount": 5, "items": []any{strings.Repeat("x", size/2), map[string]any{"y": strings.Repeat(string(rune('a'+i%26)), size/2)}}}
		}, `{"_truncated":true}`},
		{"large secret", func(i int) map[string]any {
			return map[string]any{"password": strings.Repeat(string(rune('a'+i%26)), size), "amount": 5}
		}, `{"amount":5,"password":"[redacted]"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			var once, released sync.Once
			free := func() { released.Do(func() { close(release) }) }
			var mu sync.Mutex
			var kept []string
			sink := sinkFunc(func(ctx context.Context, recs []agenttrust.AuditRecord) error {
				once.Do(func() {
					close(entered)
					select {
					case <-release:
					case <-ctx.Done():
					}
				})
				mu.Lock()
				for _, r := range recs {
					kept = append(kept, string(r.Attributes))
				}
				mu.Unlock()
				return nil
			})
			p, err := agenttrust.ParsePolicy([]byte(paymentsPolicy), "yaml")
			if err != nil {
				t.Fatal(err)
			}
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithClock(newTestClock().Now),
				agenttrust.WithRandom(newSeededRandom()),
				agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, StuckAfter: time.Hour, WriteTimeout: time.Hour}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			defer free() // before Close, which waits for the sink
			ctx := context.Background()
			req := agenttrust.Request{AgentID: "billing-bot", Tool: "payments.charge", Attributes: map[string]any{"amount": 5}}
			if _, err := c.Check(ctx, req); err != nil {
				t.Fatal(err)
			}
			<-entered // the flusher hangs in the sink with the first record

			before := liveHeap()
			for i := range n {
				r := req
				r.Attributes = tt.attrs(i)
				if _, err := c.Check(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			queued := liveHeap() - before

			free()
			if err := c.SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			written := liveHeap() - before

			if queued > bar {
				t.Errorf("%d checks queued behind a hung sink hold %d MiB of attributes (bar: %d MiB)", n, queued>>20, bar>>20)
			}
			if written > bar {
				t.Errorf("%d checks written hold %d MiB of attributes still (bar: %d MiB)", n, written>>20, bar>>20)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(kept) != n+1 || kept[0] != `{"amount":5}` {
				t.Fatalf("records = %d, first %.40q: want %d, the first {\"amount\":5}", len(kept), kept[0], n+1)
			}
			for i, a := range kept[1:] {
				if a != tt.want {
					t.Fatalf("record %d keeps %.60q, want %s", i+1, a, tt.want)
				}
			}
		})
	}
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
