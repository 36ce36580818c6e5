package agenttrust_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// spendPanicStore is a memory store whose SpendBudget panics while on.
type spendPanicStore struct {
	*memory.Store
	on atomic.Bool
}

func (s *spendPanicStore) SpendBudget(ctx context.Context, sp store.BudgetSpend) (store.BudgetRefusal, error) {
	if s.on.Load() {
		panic("store SpendBudget exploded")
	}
	return s.Store.SpendBudget(ctx, sp)
}

// TestAttackCarvePanic: CreateKey and Delegate carve the budgets their
// caveats declare (SpendBudget) when they make the key or the hop. A
// store that panicked carving a new key's budget panicked CreateKey's
// caller (an admin request), where every other store panic under an
// operator action fails it. Each must fail with an error matching
// ErrInvalidConfig, leaving no key or hop, and work once the store
// mends.
func TestAttackCarvePanic(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		act  func(c *agenttrust.Client, tok string) error
	}{
		{name: "CreateKey", act: func(c *agenttrust.Client, _ string) error {
			_, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Caveats: []string{"budget calls <= 3"}})
			return err
		}},
		{name: "Delegate", act: func(c *agenttrust.Client, tok string) error {
			_, _, err := c.Delegate(ctx, tok, 0, "budget calls <= 3")
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &spendPanicStore{Store: memory.New()}
			c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, budgetPolicy)),
				agenttrust.WithClock(newTestClock().Now), agenttrust.WithRandom(newSeededRandom()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Caveats: []string{"budget calls <= 10"}})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := c.Exchange(ctx, secret)
			if err != nil {
				t.Fatal(err)
			}
			keys, _ := c.ListKeys(ctx)
			hops, _ := c.Delegations(ctx, "", "")

			st.on.Store(true)
			within(t, tc.name, func() { err = tc.act(c, tok) })
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("%s = %v; want an error matching ErrInvalidConfig", tc.name, err)
			}
			st.on.Store(false)
			if after, _ := c.ListKeys(ctx); len(after) != len(keys) {
				t.Errorf("%d keys after a failed %s; want %d", len(after), tc.name, len(keys))
			}
			if after, _ := c.Delegations(ctx, "", ""); len(after) != len(hops) {
				t.Errorf("%d hops after a failed %s; want %d", len(after), tc.name, len(hops))
			}
			within(t, tc.name+" again", func() { err = tc.act(c, tok) })
			if err != nil {
				t.Fatalf("%s again: %v", tc.name, err)
			}
		})
	}
}
