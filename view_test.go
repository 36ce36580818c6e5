package agenttrust_test

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// twoNodes builds two clients sharing one store, each with its own audit
// chain; node B runs in notify mode.
func twoNodes(t *testing.T, st store.Store, notify agenttrust.NotifyConfig) (a, b *agenttrust.Client) {
	t.Helper()
	p := mustPolicy(t, paymentsPolicy)
	var err error
	a, err = agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-a"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err = agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-b"}), agenttrust.WithNotify(notify))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// The change feed carries a suspension, and its lifting, to the other
// node with no time passing; between changes the view ages, within its
// bound.
func TestNotifyModeSeesRevocations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoNodes(t, memory.New(), agenttrust.NotifyConfig{MaxStaleness: 250 * time.Millisecond})
		ctx := context.Background()
		time.Sleep(10 * time.Millisecond) // let the view age
		d, err := b.Check(ctx, charge(1))
		if err != nil || !d.Allowed() {
			t.Fatalf("before: %v %v", d.Effect, err)
		}
		if d.Staleness <= 0 || d.Staleness > 250*time.Millisecond {
			t.Errorf("staleness %v outside (0, 250ms]", d.Staleness)
		}
		if err := a.Suspend(ctx, "billing-bot", "drill"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // node B's feed delivers; no timer fires
		if d, err := b.Check(ctx, charge(1)); d.Allowed() || err != nil || d.Reason != "agent suspended" {
			t.Fatalf("suspension not pushed to node B: %v %q %v", d.Effect, d.Reason, err)
		}
		if err := a.Resume(ctx, "billing-bot"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if d, err := b.Check(ctx, charge(1)); !d.Allowed() {
			t.Fatalf("resume not pushed to node B: %v %q %v", d.Effect, d.Reason, err)
		}
	})
}

// noWatch hides the store's Watcher, so notify mode must poll.
type noWatch struct{ store.Store }

// downStore fails every call while down is set.
type downStore struct {
	store.Store
	down atomic.Bool
}

func (s *downStore) Blocks(ctx context.Context, tenant string) ([]store.Block, error) {
	if s.down.Load() {
		return nil, store.ErrUnavailable
	}
	return s.Store.Blocks(ctx, tenant)
}

func TestNotifyModePollsAndFailsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ds := &downStore{Store: memory.New()}
		a, b := twoNodes(t, &noWatch{ds}, agenttrust.NotifyConfig{MaxStaleness: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond})
		ctx := context.Background()
		a.Revoke(ctx, "s1")
		time.Sleep(100 * time.Millisecond)
		if d, err := b.Check(ctx, charge(1)); d.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
			t.Fatalf("polling missed a revocation: %v %v", d.Effect, err)
		}
		other := charge(1)
		other.SessionID = "s2"
		if d, _ := b.Check(ctx, other); !d.Allowed() {
			t.Fatal("other session denied")
		}
		// The store goes away: within MaxStaleness node B stops allowing.
		ds.down.Store(true)
		time.Sleep(250 * time.Millisecond)
		d, err := b.Check(ctx, other)
		if d.Allowed() || !errors.Is(err, agenttrust.ErrStoreUnavailable) || d.Staleness < 200*time.Millisecond {
			t.Fatalf("stale view still allows: %v %v staleness %v", d.Effect, err, d.Staleness)
		}
		// And recovers by itself.
		ds.down.Store(false)
		time.Sleep(100 * time.Millisecond)
		if d, err := b.Check(ctx, other); !d.Allowed() {
			t.Fatalf("no recovery: %v %v", d.Effect, err)
		}
	})
}

func TestStoredPolicyFollowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		ctx := context.Background()
		a, err := agenttrust.New(st, agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-a"}))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := agenttrust.New(st, agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "node-b"}), agenttrust.WithNotify(agenttrust.NotifyConfig{}))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if d, _ := b.Check(ctx, charge(1)); d.Allowed() {
			t.Fatal("no policy yet, but allowed")
		}
		v, err := a.SavePolicy(ctx, []byte(paymentsPolicy), "yaml", 0)
		if err != nil || v != 1 {
			t.Fatalf("SavePolicy: %v %v", v, err)
		}
		if _, err := a.SavePolicy(ctx, []byte(paymentsPolicy), "yaml", 0); !errors.Is(err, store.ErrConflict) || !errors.Is(err, agenttrust.ErrConflict) {
			t.Fatalf("stale version accepted: %v", err)
		}
		if _, err := a.SavePolicy(ctx, []byte("rules: [{id: x, effect: maybe}]"), "yaml", 1); !errors.Is(err, agenttrust.ErrInvalidPolicy) {
			t.Fatalf("bad policy saved: %v", err)
		}
		synctest.Wait() // node B's feed delivers; no timer fires
		if d, err := b.Check(ctx, charge(1)); !d.Allowed() {
			t.Fatalf("stored policy not pushed to node B: %v %q %v", d.Effect, d.Reason, err)
		}
	})
}

// readCounter counts the reads Authenticate could make of the store:
// revocation lookups and key lookups by id.
type readCounter struct {
	store.Store
	blocked, keys atomic.Int64
}

func (s *readCounter) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	s.blocked.Add(1)
	return s.Store.Blocked(ctx, tenant, ids)
}

func (s *readCounter) Key(ctx context.Context, tenant, id string) (store.Key, error) {
	s.keys.Add(1)
	return s.Store.Key(ctx, tenant, id)
}

// In notify mode Authenticate reads revocations from the view, as Check
// does: no store read per call, a suspension seen within MaxStaleness,
// and a view past its bound refused.
func TestNotifyModeAuthenticate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ds := &downStore{Store: memory.New()}
		rc := &readCounter{Store: &noWatch{ds}}
		a, b := twoNodes(t, rc, agenttrust.NotifyConfig{MaxStaleness: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond})
		ctx := context.Background()
		// Made on B: each node has master keys of its own here.
		secret, tok := agentKeyAndToken(t, b, "billing-bot")
		for _, cred := range []string{secret, tok} {
			if _, err := b.Authenticate(ctx, cred, netip.Addr{}); err != nil {
				t.Fatal(err)
			}
		}
		blocked, keys := rc.blocked.Load(), rc.keys.Load()
		for range 10 {
			for _, cred := range []string{secret, tok} {
				if _, err := b.Authenticate(ctx, cred, netip.Addr{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n := rc.blocked.Load() - blocked; n != 0 {
			t.Errorf("20 authentications in notify mode read revocations from the store %d times", n)
		}
		if n := rc.keys.Load() - keys; n != 0 {
			t.Errorf("10 token authentications looked up the root key %d more times", n)
		}

		if err := a.Suspend(ctx, "billing-bot", "drill"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(200 * time.Millisecond)
		for {
			_, err := b.Authenticate(ctx, tok, netip.Addr{})
			if errors.Is(err, agenttrust.ErrSuspended) {
				break
			}
			if err != nil || time.Now().After(deadline) {
				t.Fatalf("suspension not seen within MaxStaleness: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := a.Resume(ctx, "billing-bot"); err != nil {
			t.Fatal(err)
		}
		ds.down.Store(true)
		time.Sleep(250 * time.Millisecond)
		if _, err := b.Authenticate(ctx, secret, netip.Addr{}); !errors.Is(err, agenttrust.ErrStoreUnavailable) {
			t.Fatalf("Authenticate on a stale view: %v", err)
		}
	})
}

// agentKeyAndToken makes an API key with the agent role for agent, and a
// token exchanged for it.
func agentKeyAndToken(tb testing.TB, c *agenttrust.Client, agent string) (secret, token string) {
	tb.Helper()
	ctx := context.Background()
	secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: agent, Roles: []string{store.RoleAgent}})
	if err != nil {
		tb.Fatal(err)
	}
	if token, err = c.Exchange(ctx, secret); err != nil {
		tb.Fatal(err)
	}
	return secret, token
}

// lingeringWatch is a store whose reads of blocks fail while failing is
// set, and whose Watch goes on calling fn after its ctx ends, as a feed
// may deliver what it already read: the view must not take a marker
// delivered after it gave up on its feed as proof of freshness.
type lingeringWatch struct {
	*memory.Store
	failing atomic.Bool
}

func (s *lingeringWatch) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	if s.failing.Load() {
		return store.Block{}, false, store.ErrUnavailable
	}
	return s.Store.Blocked(ctx, tenant, ids)
}

func (s *lingeringWatch) Blocks(ctx context.Context, tenant string) ([]store.Block, error) {
	if s.failing.Load() {
		return nil, store.ErrUnavailable
	}
	return s.Store.Blocks(ctx, tenant)
}

func (s *lingeringWatch) Watch(ctx context.Context, fn func(store.Change)) error {
	// The feed outlives ctx; Watch returns when ctx ends, as it must.
	go s.Store.Watch(context.WithoutCancel(ctx), fn)
	<-ctx.Done()
	return ctx.Err()
}

// TestAttackNotifyViewGaveUp: a node in notify mode that could not apply
// a change to its view (its read of the revoked id failed) denies once
// its view is older than MaxStaleness, whatever its feed still delivers.
func TestAttackNotifyViewGaveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lw := &lingeringWatch{Store: memory.New()}
		t.Cleanup(func() { lw.Store.Close() }) // ends the lingering feeds
		const maxStale = 200 * time.Millisecond
		a, b := twoNodes(t, lw, agenttrust.NotifyConfig{MaxStaleness: maxStale, PollInterval: 20 * time.Millisecond})
		ctx := context.Background()
		time.Sleep(50 * time.Millisecond)
		if d, err := b.Check(ctx, charge(1)); err != nil || !d.Allowed() {
			t.Fatalf("before the revocation: %v %v", d.Effect, err)
		}
		lw.failing.Store(true)
		if err := a.Revoke(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		revoked := time.Now()
		for range 20 {
			time.Sleep(25 * time.Millisecond)
			if d, err := b.Check(ctx, charge(1)); d.Allowed() && time.Since(revoked) > maxStale {
				t.Fatalf("the revoked session allowed %v after its revocation with a view %v old (%v): the view took a marker for proof after it lost a change",
					time.Since(revoked), d.Staleness, err)
			}
		}
	})
}
