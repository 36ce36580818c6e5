package agenttrust_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestConcurrentChecksSuspendReload runs 10,000 checks from many
// goroutines while the agent is suspended and resumed and the policy is
// reloaded, and asserts the kill switch law: no check that started after
// Suspend returned (and before Resume began) is allowed.
func TestConcurrentChecksSuspendReload(t *testing.T) {
	p := mustPolicy(t, paymentsPolicy)
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(1024)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	const workers, perWorker = 50, 200 // 10,000 checks
	// epoch is odd only between Suspend returning and Resume starting; a
	// check that saw the same odd epoch before and after ran entirely
	// inside a suspension.
	var epoch atomic.Int64
	var violations, allowed, checks, inside, ops atomic.Int64
	stop := make(chan struct{})
	var ctl sync.WaitGroup
	ctl.Add(2)
	go func() { // kill switch
		defer ctl.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := c.Suspend(ctx, "billing-bot", "drill"); err != nil {
				t.Error(err)
				return
			}
			ops.Add(1)
			epoch.Add(1)
			time.Sleep(200 * time.Microsecond)
			epoch.Add(1)
			if err := c.Resume(ctx, "billing-bot"); err != nil {
				t.Error(err)
				return
			}
			ops.Add(1)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	go func() { // policy reloads
		defer ctl.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := c.SetPolicy(p); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				before := epoch.Load()
				d, err := c.Check(ctx, charge(10))
				after := epoch.Load()
				checks.Add(1)
				if before == after && before%2 == 1 {
					inside.Add(1)
				}
				if d.Allowed() {
					allowed.Add(1)
					if err != nil {
						violations.Add(1)
					}
					if before == after && before%2 == 1 {
						violations.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	ctl.Wait()
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d checks allowed after Suspend returned", v)
	}
	if checks.Load() != workers*perWorker {
		t.Fatalf("%d checks ran", checks.Load())
	}
	if inside.Load() == 0 {
		t.Fatal("no check ran inside a suspension: the test proved nothing")
	}
	t.Logf("%d checks, %d allowed, %d ran wholly inside a suspension (all denied)", checks.Load(), allowed.Load(), inside.Load())
	if err := c.SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	// One record per check, and one per suspension and resumption.
	if got, want := c.Stats().AuditWritten, uint64(workers*perWorker+ops.Load()); got != want {
		t.Fatalf("%d audit records written, want %d", got, want)
	}
}
