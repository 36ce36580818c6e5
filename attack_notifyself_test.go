package agenttrust_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// slowFeed is a memory store whose point reads of revocations take a
// while, as a networked store's do: the change feed of notify mode, which
// rereads each id it hears of, then lags its writes by that long.
type slowFeed struct {
	*memory.Store
	delay time.Duration
}

func (s *slowFeed) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	time.Sleep(s.delay)
	return s.Store.Blocked(ctx, tenant, ids)
}

// Suspend and Revoke promise that every check starting after they return
// denies (Suspend: "every check by agent or session id starts denying
// before Suspend returns"; Revoke: "takes effect for every check that
// starts after it returns"). In notify mode a check reads the client's
// in-memory view, which only the change feed updated: the same client's
// next check after the kill switch returned was still allowed until the
// feed caught up.
func TestAttackNotifyViewLagsOwnRevoke(t *testing.T) {
	p := mustPolicy(t, paymentsPolicy)
	ctx := context.Background()
	tests := []struct {
		name string
		stop func(c *agenttrust.Client) error
		err  error // nil: a plain deny (suspension)
	}{
		{"suspend agent", func(c *agenttrust.Client) error { return c.Suspend(ctx, "billing-bot", "drill") }, nil},
		{"suspend session", func(c *agenttrust.Client) error { return c.Suspend(ctx, "s1", "drill") }, nil},
		{"revoke agent", func(c *agenttrust.Client) error { return c.Revoke(ctx, "billing-bot") }, agenttrust.ErrRevoked},
		{"revoke session", func(c *agenttrust.Client) error { return c.Revoke(ctx, "s1") }, agenttrust.ErrRevoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &slowFeed{Store: memory.New(), delay: 20 * time.Millisecond}
			c, err := agenttrust.New(st, agenttrust.WithPolicy(p),
				agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: time.Second, PollInterval: 100 * time.Millisecond}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if d, err := c.Check(ctx, charge(1)); !d.Allowed() {
				t.Fatalf("before: %v %v", d.Effect, err)
			}
			if err := tc.stop(c); err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(ctx, charge(1))
			if d.Allowed() {
				t.Fatalf("allowed right after the kill switch returned (%q)", d.Reason)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
}

// The same with a credential: a key revoked on this client stops its
// tokens at this client's next check, however slow the feed.
func TestAttackNotifyViewLagsOwnKeyRevoke(t *testing.T) {
	p := mustPolicy(t, paymentsPolicy)
	ctx := context.Background()
	st := &slowFeed{Store: memory.New(), delay: 20 * time.Millisecond}
	c, err := agenttrust.New(st, agenttrust.WithPolicy(p),
		agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: time.Second, PollInterval: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	secret, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, cred := range []string{secret, tok} {
		req := charge(1)
		req.Credential = cred
		if d, err := c.Check(ctx, req); !d.Allowed() {
			t.Fatalf("before: %v %v", d.Effect, err)
		}
	}
	if err := c.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	for _, cred := range []string{secret, tok} {
		req := charge(1)
		req.Credential = cred
		if d, err := c.Check(ctx, req); d.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
			t.Fatalf("%.4s: allowed or not revoked right after Revoke returned: %v %v", cred, d.Effect, err)
		}
	}
}

// The runaway breaker suspends an agent in the store; in notify mode the
// tripping client's next checks read its view, and with the breaker's
// counters reset by the trip, the agent went on being allowed until the
// feed caught up.
func TestAttackNotifyViewLagsBreakerTrip(t *testing.T) {
	p := mustPolicy(t, paymentsPolicy)
	ctx := context.Background()
	st := &slowFeed{Store: memory.New(), delay: 20 * time.Millisecond}
	c, err := agenttrust.New(st, agenttrust.WithPolicy(p),
		agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxCalls: 3, CallWindow: time.Hour}),
		agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: time.Second, PollInterval: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tripped := false
	for i := range 6 {
		d, err := c.Check(ctx, charge(1))
		switch {
		case d.Rule == "agenttrust.breaker":
			tripped = true
		case tripped && d.Allowed():
			t.Fatalf("check %d allowed after the breaker suspended the agent", i)
		case err != nil:
			t.Fatalf("check %d: %v", i, err)
		}
	}
	if !tripped {
		t.Fatal("breaker never tripped")
	}
}
