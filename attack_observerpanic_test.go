package agenttrust_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store/memory"
)

// observerChildEnv names, in a child test process, the case of
// TestAttackObserverPanicKillsProcess it runs.
const observerChildEnv = "AGENTTRUST_TEST_OBSERVER_PANIC"

// TestAttackObserverPanicKillsProcess: the observer is told of audit
// writes by the audit flusher and of a stuck audit by a timer, both
// goroutines of the client's own. A panic there is recovered by no
// caller: it ends the process, and with it every record still queued. A
// faulty metrics exporter must not take the authorizer down. Each case
// runs in a child process, which must exit cleanly.
func TestAttackObserverPanicKillsProcess(t *testing.T) {
	cases := map[string]func(t *testing.T){
		// The flusher tells of each batch written.
		"audit written": func(t *testing.T) {
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)),
				agenttrust.WithObserver(&panicObserver{kind: observe.AuditWritten}))
			if err != nil {
				t.Fatal(err)
			}
			if d, err := c.Check(context.Background(), charge(1)); err != nil || !d.Allowed() {
				t.Fatalf("Check = %v, %v", d.Effect, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		},
		// A timer tells of a sink failing past StuckAfter.
		"audit stuck": func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := newOutageSink()
				sink.down.Store(true)
				c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)),
					agenttrust.WithObserver(&panicObserver{kind: observe.AuditStuck}),
					agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink},
						StuckAfter: time.Second, DrainTimeout: time.Second}))
				if err != nil {
					t.Fatal(err)
				}
				c.Check(context.Background(), charge(1))
				time.Sleep(2 * time.Second)
				if d, err := c.Check(context.Background(), charge(1)); d.Allowed() || !errors.Is(err, agenttrust.ErrAuditUnavailable) {
					t.Errorf("Check with the audit stuck = %v, %v", d.Effect, err)
				}
				c.Close()
			})
		},
	}
	inChildren(t, "TestAttackObserverPanicKillsProcess", observerChildEnv, cases)
}

// TestAttackObserverPanicInCall: an observer that panics where a call
// tells it (Check at the end of every check, events of a rate limit, an
// approval opened, a revocation) must not turn the call into a panic,
// after the decision is recorded or the action applied: the observer
// tells, it does not decide. The call answers as it would without the
// observer, and the client goes on.
func TestAttackObserverPanicInCall(t *testing.T) {
	const limited = paymentsPolicy + `
limits:
  - id: one
    agents: [billing-bot]
    tools: [payments.charge]
    rate: 1/m
    burst: 1
`
	cases := []struct {
		name   string
		obs    *panicObserver
		policy string
		call   func(c *agenttrust.Client) (agenttrust.Effect, error)
		want   agenttrust.Effect
	}{
		{name: "Check", obs: &panicObserver{check: true}, policy: paymentsPolicy, want: agenttrust.Allow,
			call: func(c *agenttrust.Client) (agenttrust.Effect, error) {
				d, err := c.Check(context.Background(), charge(1))
				return d.Effect, err
			}},
		{name: "rate limited", obs: &panicObserver{kind: observe.RateLimited}, policy: limited, want: agenttrust.Deny,
			call: func(c *agenttrust.Client) (agenttrust.Effect, error) {
				c.Check(context.Background(), charge(1))
				d, err := c.Check(context.Background(), charge(1))
				return d.Effect, err
			}},
		{name: "approval opened", obs: &panicObserver{kind: observe.ApprovalOpened}, policy: paymentsPolicy, want: agenttrust.NeedsApproval,
			call: func(c *agenttrust.Client) (agenttrust.Effect, error) {
				d, err := c.Check(context.Background(), charge(100))
				return d.Effect, err
			}},
		{name: "revoked", obs: &panicObserver{kind: observe.Revoked}, policy: paymentsPolicy, want: agenttrust.Allow,
			call: func(c *agenttrust.Client) (agenttrust.Effect, error) {
				return agenttrust.Allow, c.Revoke(context.Background(), "s1")
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.policy, agenttrust.WithObserver(tc.obs))
			var got agenttrust.Effect
			var err error
			within(t, tc.name, func() { got, err = tc.call(f.c) })
			if err != nil || got != tc.want {
				t.Fatalf("%s = %v, %v; want %v", tc.name, got, err, tc.want)
			}
			within(t, "a later Check", func() { f.c.Check(context.Background(), charge(2)) })
		})
	}
}
