package agenttrust_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// backgroundChildEnv names, in a child test process, the case of
// TestAttackStorePanicInBackground it runs.
const backgroundChildEnv = "AGENTTRUST_TEST_BACKGROUND_PANIC"

// TestAttackStorePanicInBackground: a client calls its store from
// goroutines of its own, which no caller can recover: the follower of
// the stored policy, and in notify mode the revocation poller and the
// change feed (its watch, its markers, its reads of a changed id). A
// store method that panics there ended the process, and with it every
// audit record still queued. It must be a failure like an error: logged,
// retried, and, for revocations, denying once the view is stale. Each
// case runs in a child process, which must exit cleanly.
func TestAttackStorePanicInBackground(t *testing.T) {
	const maxStale = 200 * time.Millisecond
	notify := agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: maxStale, PollInterval: 20 * time.Millisecond})
	run := func(t *testing.T, method string, st func(*panicStore) store.Store, opts ...agenttrust.Option) {
		synctest.Test(t, func(t *testing.T) {
			ps := &panicStore{Store: memory.New()}
			s := st(ps)
			c, err := agenttrust.New(s, opts...)
			if err != nil {
				t.Fatal(err)
			}
			// A second client over the same data, which works.
			other, err := agenttrust.New(ps.Store, agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)),
				agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "other"}))
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			ps.arm(method)
			if err := other.Revoke(context.Background(), "s9"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			if method == "Blocks" {
				// Unread, the view is stale: checks deny.
				if d, err := c.Check(context.Background(), charge(1)); d.Allowed() || !errors.Is(err, agenttrust.ErrStoreUnavailable) {
					t.Errorf("Check with the poll failing = %v, %v; want a Deny matching ErrStoreUnavailable", d.Effect, err)
				}
			}
			ps.arm("")
			c.Check(context.Background(), charge(1))
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			other.Close()
		})
	}
	policy := agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy))
	asIs := func(ps *panicStore) store.Store { return ps }
	pollOnly := func(ps *panicStore) store.Store { return &noWatch{ps} }
	cases := map[string]func(t *testing.T){
		"policy follower reads the policy": func(t *testing.T) { run(t, "Policy", asIs) },
		"revocation poll reads the view":   func(t *testing.T) { run(t, "Blocks", pollOnly, policy, notify) },
		"change feed sends a marker":       func(t *testing.T) { run(t, "Mark", asIs, policy, notify) },
		"change feed reads a changed id":   func(t *testing.T) { run(t, "Blocked", asIs, policy, notify) },
	}
	inChildren(t, "TestAttackStorePanicInBackground", backgroundChildEnv, cases)
}
