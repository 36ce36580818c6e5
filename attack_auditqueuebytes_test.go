package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackAuditQueueBytes: the audit queue bounded its records
// (AuditConfig.Queue, 65,536 by default) but not their attributes, of
// which each keeps up to 16 KiB: an agent sending attributes just under
// that while a sink was slow made the queue hold a GiB, and its spare
// capacity kept them once written, until later checks overwrote each
// slot. The queue now holds at most 1 KiB of attribute text per record
// it may hold, on average (64 MiB by default): past it, checks wait for
// room as when the queue is full, then deny, and the refusals are
// recorded once there is room. Once a batch holding more than a MiB of
// attributes is written, the queue's slots are cleared.
func TestAttackAuditQueueBytes(t *testing.T) {
	const (
		size = 15 << 10 // bytes of attributes of each check, under what a record keeps
		bar  = 4 << 20  // live heap they may add, queued or written
	)
	tests := []struct {
		name  string
		queue int  // records the queue may hold, each 1 KiB of attributes
		n     int  // checks sent while the sink hangs, within queue
		held  bool // whether the queue may hold them all
	}{
		{"past the queue's bytes", 1024, 1000, false},
		{"within the queue's bytes, once written", 8192, 500, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { queueBytes(t, tt.queue, tt.n, size, bar, tt.held) })
		})
	}
}

func queueBytes(t *testing.T, queue, n, size int, bar int64, held bool) {
	{
		entered, release := make(chan struct{}), make(chan struct{})
		first := true
		sink := sinkFunc(func(ctx context.Context, recs []agenttrust.AuditRecord) error {
			if first {
				first = false
				close(entered)
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
		p, err := agenttrust.ParsePolicy([]byte(paymentsPolicy), "yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithClock(newTestClock().Now),
			agenttrust.WithRandom(newSeededRandom()),
			agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, Queue: queue,
				StuckAfter: time.Hour, WriteTimeout: 1000 * time.Hour}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx := context.Background()
		req := agenttrust.Request{AgentID: "billing-bot", Tool: "payments.charge", Attributes: map[string]any{"amount": 5}}
		if _, err := c.Check(ctx, req); err != nil {
			t.Fatal(err)
		}
		<-entered // the flusher hangs in the sink with the first record

		before := liveHeap()
		refused := 0
		for i := range n {
			r := req
			r.Attributes = map[string]any{"amount": 5, "body": strings.Repeat(string(rune('a'+i%26)), size)}
			d, err := c.Check(ctx, r)
			switch {
			case err == nil:
			case errors.Is(err, agenttrust.ErrAuditUnavailable) && d.Effect == agenttrust.Deny:
				refused++
			default:
				t.Fatalf("check %d: %v, %v", i, d.Effect, err)
			}
		}
		queued := liveHeap() - before

		close(release)
		if err := c.SyncAudit(ctx); err != nil {
			t.Fatal(err)
		}
		written := liveHeap() - before

		if !held && queued > bar {
			t.Errorf("%d checks queued behind a hung sink hold %d MiB of attributes (bar: %d MiB); %d refused", n, queued>>20, bar>>20, refused)
		}
		if written > bar {
			t.Errorf("%d checks written hold %d MiB of attributes still (bar: %d MiB)", n, written>>20, bar>>20)
		}
	}
}

// TestAuditQueueBytesWaitForRoom: a check that finds the queue's bytes
// used up waits for the flusher to take them, as for a full queue, and
// goes on once it does, rather than deny when room was made.
func TestAuditQueueBytesWaitForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		entered, release := make(chan struct{}), make(chan struct{})
		first := true
		sink := sinkFunc(func(ctx context.Context, recs []agenttrust.AuditRecord) error {
			if first {
				first = false
				close(entered)
				<-release
			}
			return nil
		})
		p, err := agenttrust.ParsePolicy([]byte(paymentsPolicy), "yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithClock(newTestClock().Now),
			agenttrust.WithRandom(newSeededRandom()),
			agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, Queue: 64, // 64 KiB of attributes
				StuckAfter: time.Hour, WriteTimeout: 1000 * time.Hour}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx := context.Background()
		req := agenttrust.Request{AgentID: "billing-bot", Tool: "payments.charge", Attributes: map[string]any{"amount": 5}}
		if _, err := c.Check(ctx, req); err != nil {
			t.Fatal(err)
		}
		<-entered
		req.Attributes = map[string]any{"amount": 5, "body": strings.Repeat("x", 15<<10)}
		for range 5 { // 75 KiB: the bytes are used up
			if _, err := c.Check(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() {
			_, err := c.Check(ctx, req)
			done <- err
		}()
		synctest.Wait() // the check waits for room
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("a check waiting for room the flusher made: %v", err)
		}
	})
}
