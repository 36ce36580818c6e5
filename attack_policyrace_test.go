package agenttrust_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// heldPut is a memory store that can hold the answer of one PutPolicy
// after it has committed, or of one Policy read after it has read, as a
// slow link back from the database does.
type heldPut struct {
	*memory.Store
	gate, readGate atomic.Pointer[putGate]
}

func (s *heldPut) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	out, err := s.Store.Policy(ctx, tenant)
	if g := s.readGate.Swap(nil); g != nil {
		close(g.committed)
		<-g.release
	}
	return out, err
}

type putGate struct{ committed, release chan struct{} }

func (s *heldPut) PutPolicy(ctx context.Context, doc store.PolicyDoc, expect int64) (store.PolicyDoc, error) {
	out, err := s.Store.PutPolicy(ctx, doc, expect)
	if g := s.gate.Swap(nil); g != nil {
		close(g.committed)
		<-g.release
	}
	return out, err
}

// hold makes the next PutPolicy wait, once committed, until release.
func (s *heldPut) hold() *putGate {
	g := &putGate{committed: make(chan struct{}), release: make(chan struct{})}
	s.gate.Store(g)
	return g
}

const stopChargesPolicy = `
rules:
  - id: stop-charges
    effect: deny
    agents: ["*"]
    tools: [payments.charge]
    reason: charges stopped
`

// Two policy saves whose answers come back in the other order: version 2
// is committed, version 3 (which adds a deny) is saved after it and
// returns, and only then does version 2's SavePolicy make its policy
// live. The older policy then replaced the newer one on that client: the
// deny saved and returned was not enforced, and in notify mode, where the
// client waits for the feed rather than polling, never again until the
// next policy change.
func TestAttackPolicySaveOvertaken(t *testing.T) {
	ctx := context.Background()
	notify := agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: time.Second, PollInterval: 100 * time.Millisecond})
	tests := []struct {
		name   string
		notify bool
		other  bool          // version 3 is saved through another client
		settle time.Duration // how long the client has to catch up
	}{
		{name: "same client, strict"},
		{name: "same client, notify", notify: true, settle: 300 * time.Millisecond},
		{name: "other client, notify", notify: true, other: true, settle: 300 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &heldPut{Store: memory.New()}
			var opts []agenttrust.Option
			if tc.notify {
				opts = append(opts, notify)
			}
			a, err := agenttrust.New(st, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b := a
			if tc.other {
				if b, err = agenttrust.New(st, agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-b"})); err != nil {
					t.Fatal(err)
				}
				defer b.Close()
			}
			if _, err := a.SavePolicy(ctx, []byte(paymentsPolicy), "yaml", 0); err != nil {
				t.Fatal(err)
			}
			g := st.hold()
			done := make(chan error, 1)
			go func() {
				_, err := a.SavePolicy(ctx, []byte(paymentsPolicy+"\n# v2\n"), "yaml", 1)
				done <- err
			}()
			<-g.committed
			if v, err := b.SavePolicy(ctx, []byte(stopChargesPolicy), "yaml", 2); err != nil || v != 3 {
				t.Fatalf("save v3: %d %v", v, err)
			}
			time.Sleep(tc.settle) // the feed delivers both changes
			close(g.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			time.Sleep(tc.settle)
			if d, err := a.Check(ctx, charge(1)); d.Allowed() {
				t.Fatalf("allowed by the overtaken policy after a deny was saved and returned: %q %v", d.Rule, err)
			}
		})
	}
}

// The same with the reader that follows the stored policy: it reads
// version 2, version 3 (a deny) is saved through this client and
// returns, and then the reader made version 2 live again, until its next
// poll a second later.
func TestAttackPolicyFollowOvertaken(t *testing.T) {
	ctx := context.Background()
	st := &heldPut{Store: memory.New()}
	a, err := agenttrust.New(st)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// b's policy is given in code, so only a follows the store.
	b, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-b"}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.SavePolicy(ctx, []byte(paymentsPolicy), "yaml", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SavePolicy(ctx, []byte(paymentsPolicy+"\n# v2\n"), "yaml", 1); err != nil {
		t.Fatal(err)
	}
	g := &putGate{committed: make(chan struct{}), release: make(chan struct{})}
	st.readGate.Store(g)
	<-g.committed // a's follower has read version 2
	if v, err := a.SavePolicy(ctx, []byte(stopChargesPolicy), "yaml", 2); err != nil || v != 3 {
		t.Fatalf("save v3: %d %v", v, err)
	}
	close(g.release)
	time.Sleep(100 * time.Millisecond) // the follower installs what it read
	if d, err := a.Check(ctx, charge(1)); d.Allowed() {
		t.Fatalf("allowed by the overtaken policy after a deny was saved and returned: %q %v", d.Rule, err)
	}
}
