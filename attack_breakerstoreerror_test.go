package agenttrust_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// suspendDownStore is a store whose Suspend fails as a database driver
// words a lost link: naming the database's user, name, host and port.
type suspendDownStore struct{ *memory.Store }

var errSuspendDown = fmt.Errorf("%w: failed to connect to `user=leakuser database=leakdb`: db.internal.example:6543 (10.9.8.7): dial error: connection refused", store.ErrUnavailable)

func (suspendDownStore) Suspend(context.Context, store.Block) error { return errSuspendDown }

// checkRecorder is an Observer keeping what it is told of checks.
type checkRecorder struct {
	mu     sync.Mutex
	checks []observe.Check
}

func (r *checkRecorder) Check(_ context.Context, c observe.Check) {
	r.mu.Lock()
	r.checks = append(r.checks, c)
	r.mu.Unlock()
}
func (r *checkRecorder) Event(context.Context, observe.Event) {}

// TestAttackBreakerStoreErrorInReason: when the runaway breaker tripped
// and the store failed to suspend the agent, the store's error text
// became the Decision's Reason: the agent whose calls tripped it read the
// database's user, name, host, port and address in its check's answer
// (the API's "reason"), and the tenant's audit record and the Observer
// kept it too. A store failure's text goes only to the operator's log,
// as on every other path (a 503 says "store unavailable").
func TestAttackBreakerStoreErrorInReason(t *testing.T) {
	ctx := context.Background()
	p, err := agenttrust.ParsePolicy([]byte("rules:\n  - {id: open, effect: allow}\n"), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	sink := agenttrust.NewMemorySink(100)
	obs := &checkRecorder{}
	clock := newTestClock()
	c, err := agenttrust.New(suspendDownStore{memory.New()},
		agenttrust.WithPolicy(p), agenttrust.WithClock(clock.Now), agenttrust.WithRandom(newSeededRandom()),
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}),
		agenttrust.WithObserver(obs),
		agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxCalls: 2, CallWindow: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var last agenttrust.Decision
	for range 3 {
		last, _ = c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
	}
	if last.Allowed() || last.Rule != "agenttrust.breaker" {
		t.Fatalf("the third call: %+v; want the breaker's deny", last)
	}
	if err := c.SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	leaks := func(s string) bool {
		for _, part := range []string{"leakuser", "leakdb", "db.internal.example", "6543", "10.9.8.7"} {
			if strings.Contains(s, part) {
				return true
			}
		}
		return false
	}
	t.Run("decision", func(t *testing.T) {
		if leaks(last.Reason) {
			t.Errorf("the Decision's reason holds the store's error: %q", last.Reason)
		}
		if !strings.Contains(last.Reason, "suspending the agent failed") {
			t.Errorf("the reason %q does not say the suspension failed", last.Reason)
		}
	})
	t.Run("audit record", func(t *testing.T) {
		for _, r := range sink.Records() {
			if leaks(fmt.Sprintf("%+v", r)) {
				t.Errorf("an audit record holds the store's error: %+v", r)
			}
		}
	})
	t.Run("observer", func(t *testing.T) {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		for _, ch := range obs.checks {
			if leaks(fmt.Sprintf("%+v", ch)) {
				t.Errorf("the Observer was told the store's error: %+v", ch)
			}
		}
	})
}
