package agenttrust_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// headPanicSink is a sink that persists chains (it reads its head, as
// audit.StoreSink does) whose AuditHead panics; while conflict is set,
// each write is refused as a conflict, as a store refuses a sequence
// another writer took.
type headPanicSink struct {
	conflict atomic.Bool
	calm     atomic.Bool // AuditHead finds no head instead of panicking
}

func (s *headPanicSink) Write(_ context.Context, _ []agenttrust.AuditRecord) error {
	if s.conflict.Load() {
		return store.ErrConflict
	}
	return nil
}

func (s *headPanicSink) AuditHead(context.Context, string) (agenttrust.AuditRecord, error) {
	if s.calm.Load() {
		return agenttrust.AuditRecord{}, store.ErrNotFound
	}
	panic("sink head exploded")
}

// sinkChildEnv names, in a child test process, the case of
// TestAttackSinkHeadPanic it runs.
const sinkChildEnv = "AGENTTRUST_TEST_SINK_HEAD_PANIC"

// TestAttackSinkHeadPanic: a sink that persists chains is asked for its
// head when a client starts (to continue the chain) and by the audit
// flusher when a write is refused as a conflict. A panic there escaped
// New, which must fail with an error rather than panic on what it is
// given, and ended the process from the flusher, losing every record
// queued. Writes panicking are already a failed write (writeSink); the
// head read must be too.
func TestAttackSinkHeadPanic(t *testing.T) {
	cases := map[string]func(t *testing.T){
		"New reads the head": func(t *testing.T) {
			var err error
			within(t, "New", func() {
				var c *agenttrust.Client
				c, err = agenttrust.New(memory.New(), agenttrust.WithAudit(agenttrust.AuditConfig{
					Sinks: []agenttrust.AuditSink{&headPanicSink{}}}))
				if c != nil {
					c.Close()
				}
			})
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("New = %v; want an error matching ErrInvalidConfig", err)
			}
		},
		"the flusher reads the head after a conflict": func(t *testing.T) {
			sink := &headPanicSink{}
			sink.calm.Store(true)
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)),
				agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink},
					Durable: true, StuckAfter: 200 * time.Millisecond, DrainTimeout: 200 * time.Millisecond}))
			if err != nil {
				t.Fatal(err)
			}
			sink.calm.Store(false)
			sink.conflict.Store(true)
			if d, err := c.Check(context.Background(), charge(1)); d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
				t.Errorf("Check with its record refused = %v, %v; want a Deny matching ErrAuditUnavailable", d.Effect, err)
			}
			sink.conflict.Store(false)
			c.Close()
		},
	}
	inChildren(t, "TestAttackSinkHeadPanic", sinkChildEnv, cases)
}
