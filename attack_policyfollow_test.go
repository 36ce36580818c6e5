package agenttrust_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// hookPolicyStore is a memory store (a store.Watcher, so notify mode
// follows its feed) whose policy reads go through a hook first: it gets
// the read's number (from 1) and the document read, and answers in its
// place.
type hookPolicyStore struct {
	*memory.Store
	reads atomic.Int64
	hook  atomic.Pointer[func(n int64, doc store.PolicyDoc, err error) (store.PolicyDoc, error)]
}

func (s *hookPolicyStore) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	n := s.reads.Add(1)
	doc, err := s.Store.Policy(ctx, tenant)
	if h := s.hook.Load(); h != nil {
		return (*h)(n, doc, err)
	}
	return doc, err
}

// TestAttackNotifyNodeKeepsOldPolicy: in notify mode a node reloads the
// stored policy when the change feed says it changed, and once when the
// feed comes up (a change made before then is not replayed); it does not
// poll while the feed is up. When that reload failed (a store timeout, a
// dropped connection), the node logged it and went on deciding by the
// older policy for as long as the feed stayed up, its markers still
// proving its view fresh: a deny stored since, in force on every other
// node, was never applied there. A node must keep trying until it holds
// the stored version, as it does when it polls.
func TestAttackNotifyNodeKeepsOldPolicy(t *testing.T) {
	const allowAll = "rules:\n  - {id: everything, effect: allow}\n"
	const denyCharges = "rules:\n  - {id: everything, effect: allow}\n  - {id: no-charges, effect: deny, tools: [payments.charge]}\n"
	type hook = func(n int64, doc store.PolicyDoc, err error) (store.PolicyDoc, error)
	failing := func(from, to int64) hook {
		return func(n int64, doc store.PolicyDoc, err error) (store.PolicyDoc, error) {
			if n >= from && n <= to {
				return store.PolicyDoc{}, store.ErrUnavailable
			}
			return doc, err
		}
	}
	for _, tt := range []struct {
		name string
		// before is set before node B starts, after once it decides by
		// the first version, which node A then replaces.
		before func(mem *memory.Store) hook
		after  func(n int64) hook
	}{
		{name: "the reload after a change fails once", after: func(n int64) hook { return failing(n+1, n+1) }},
		{name: "the reload after a change fails three times", after: func(n int64) hook { return failing(n+1, n+3) }},
		{name: "the reread when the feed comes up fails", before: func(mem *memory.Store) hook {
			return func(n int64, doc store.PolicyDoc, err error) (store.PolicyDoc, error) {
				switch n {
				case 1: // New reads the first version; another node saves a second before the feed is up
					if err == nil {
						if _, perr := mem.PutPolicy(context.Background(), store.PolicyDoc{Tenant: doc.Tenant, Format: "yaml", Body: []byte(denyCharges)}, doc.Version); perr != nil {
							t.Error(perr)
						}
					}
				case 2: // the reread once the feed is up
					return store.PolicyDoc{}, store.ErrUnavailable
				}
				return doc, err
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				mem := memory.New()
				a, err := agenttrust.New(mem, agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-a"}))
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				v, err := a.SavePolicy(ctx, []byte(allowAll), "yaml", 0)
				if err != nil {
					t.Fatal(err)
				}
				hs := &hookPolicyStore{Store: mem}
				if tt.before != nil {
					h := tt.before(mem)
					hs.hook.Store(&h)
				}
				b, err := agenttrust.New(hs, agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-b"}),
					agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: time.Second}))
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				if tt.after != nil {
					time.Sleep(100 * time.Millisecond)
					if d, err := b.Check(ctx, charge(1)); !d.Allowed() {
						t.Fatalf("before the change: %v %v", d.Effect, err)
					}
					h := tt.after(hs.reads.Load())
					hs.hook.Store(&h)
					if _, err := a.SavePolicy(ctx, []byte(denyCharges), "yaml", v); err != nil {
						t.Fatal(err)
					}
					synctest.Wait() // the feed delivers the change; node B's reload fails
				}
				time.Sleep(time.Minute)
				if d, err := b.Check(ctx, charge(1)); d.Allowed() || d.Rule != "no-charges" {
					t.Fatalf("a minute after a stored deny, node B still decides by the replaced policy: %v %q %v", d.Effect, d.Rule, err)
				}
			})
		})
	}
}
