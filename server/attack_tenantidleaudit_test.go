package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// downSink is an audit sink that fails while down is set and otherwise
// keeps the decision ids it was given.
type downSink struct {
	down atomic.Bool
	mu   sync.Mutex
	ids  map[string]bool
}

func (s *downSink) Write(_ context.Context, recs []agenttrust.AuditRecord) error {
	if s.down.Load() {
		return fmt.Errorf("sink down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.ids[r.ID.String()] = true
	}
	return nil
}

func (s *downSink) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

// TestAttackTenantIdleDropsQueuedAudit: in asynchronous audit mode a
// check answers once its record is queued, and a sink that comes back
// gets the backlog. A server that closes idle tenants closed one whose
// queue still held the records of answered decisions while a sink was
// down, and Close, past its drain bound, gave them up: an agent's allowed
// checks made just before an outage that outlived the idle time were
// never recorded, though the sink came back. Each case answers checks
// with the sink down, lets the tenant sit idle for wait with the
// eviction run, brings the sink back and requires every answered
// decision in it.
func TestAttackTenantIdleDropsQueuedAudit(t *testing.T) {
	const idle = 10 * time.Minute
	for _, tc := range []struct {
		name   string
		wait   time.Duration
		outage bool
	}{
		{"outage, idle 11m", 11 * time.Minute, true},
		{"outage, idle 1h", time.Hour, true},
		{"no outage, idle 11m", 11 * time.Minute, false}, // control
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &downSink{ids: map[string]bool{}}
			e := newEnv(t, WithTenantIdle(idle), WithClientOptions(agenttrust.WithAudit(agenttrust.AuditConfig{
				Sinks: []agenttrust.AuditSink{sink}, StuckAfter: time.Minute, DrainTimeout: 100 * time.Millisecond,
			})))
			e.unpin()
			bot := e.key("acme/bot")
			sink.down.Store(tc.outage)
			var answered []string
			for range 3 {
				got := e.check(bot, map[string]any{"tool_name": "docs.read"})
				if got["effect"] != "allow" {
					t.Fatalf("check: %v", got)
				}
				answered = append(answered, got["decision_id"].(string))
			}
			for step := time.Duration(0); step < tc.wait; step += idle / 4 {
				e.clock.Advance(min(idle/4, tc.wait-step))
				e.srv.evictIdleOnce()
			}
			sink.down.Store(false)
			if c, err := e.srv.Client(context.Background(), "acme"); err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c.SyncAudit(ctx)
				cancel()
			}
			lost := 0
			for _, id := range answered {
				if !sink.has(id) {
					lost++
				}
			}
			if lost > 0 {
				t.Fatalf("%d of %d allowed decisions never reached the sink that came back (tenant closed: %v)",
					lost, len(answered), e.srv.metrics.tenantsClosed.Load() > 0)
			}
		})
	}
}
