package agenttrust_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackNotifyViewClockStepsBack: a node in notify mode measures its
// view's age on its clock. When that clock is stepped back (NTP, a VM
// resumed, an operator) while its store is unreachable, the view last
// confirmed "in the future" must not pass for fresh: a revocation made
// meanwhile on another node is missed for as long as the step, far past
// MaxStaleness. Each case steps node B's clock back by step once its
// store is down and a session is revoked on node A, then checks the
// revoked session on node B after MaxStaleness has passed.
func TestAttackNotifyViewClockStepsBack(t *testing.T) {
	const maxStale = 200 * time.Millisecond
	for _, step := range []time.Duration{
		time.Millisecond, maxStale / 2, maxStale, time.Second, time.Minute, time.Hour, 48 * time.Hour,
	} {
		t.Run(step.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ds := &downStore{Store: memory.New()}
				st := &noWatch{ds}
				p := mustPolicy(t, paymentsPolicy)
				a, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-a"}))
				if err != nil {
					t.Fatal(err)
				}
				var offset atomic.Int64
				clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
				b, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-b"}),
					agenttrust.WithClock(clock),
					agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: maxStale, PollInterval: 20 * time.Millisecond}))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { a.Close(); b.Close() })
				ctx := context.Background()
				time.Sleep(50 * time.Millisecond)
				if d, err := b.Check(ctx, charge(1)); err != nil || !d.Allowed() {
					t.Fatalf("before: %v %v", d.Effect, err)
				}
				// Node B loses its store; node A revokes the session.
				ds.down.Store(true)
				if err := a.Revoke(ctx, "s1"); err != nil {
					t.Fatal(err)
				}
				offset.Store(int64(-step))
				time.Sleep(maxStale + 50*time.Millisecond)
				d, err := b.Check(ctx, charge(1))
				if d.Allowed() || err == nil {
					t.Fatalf("clock stepped back %v: the revoked session is allowed %v after its revocation, by a view reported %v old: %v %v",
						step, maxStale+50*time.Millisecond, d.Staleness, d.Effect, err)
				}
				if !errors.Is(err, agenttrust.ErrStoreUnavailable) {
					t.Fatalf("want ErrStoreUnavailable, got %v", err)
				}
				// Once the store is back the view is confirmed again on
				// the clock as it now runs, and sees the revocation.
				ds.down.Store(false)
				time.Sleep(100 * time.Millisecond)
				if d, err := b.Check(ctx, charge(1)); d.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
					t.Fatalf("after recovery: %v %v", d.Effect, err)
				}
				other := charge(1)
				other.SessionID = "s2"
				if d, err := b.Check(ctx, other); !d.Allowed() {
					t.Fatalf("after recovery, another session: %v %v", d.Effect, err)
				}
			})
		})
	}
}
