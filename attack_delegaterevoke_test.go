package agenttrust_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// beforeCarveStore is a memory store that runs hook once, just before
// the first carve it is asked for (a spend that spends nothing): what an
// operator does between a Delegate's check of the token it narrows and
// its carve of the new hop's budget.
type beforeCarveStore struct {
	*memory.Store
	hook func()
}

func (s *beforeCarveStore) SpendBudget(ctx context.Context, sp store.BudgetSpend) (store.BudgetRefusal, error) {
	if h := s.hook; h != nil && len(sp.Amounts) == 0 {
		s.hook = nil
		h()
	}
	return s.Store.SpendBudget(ctx, sp)
}

// TestAttackDelegateRacesRevoke: a Delegate checks that the token it
// narrows is not revoked, and then carves the new hop's budget out of
// the key's. A Revoke of the token (or of the hop above it) that lands
// in between returned, and gave back the carve-outs under it, before the
// new hop's was taken: the Delegate still handed out a token of the
// revoked branch, and its carve-out stayed reserved for ever, so the
// key's other tokens could never spend it (a holder about to be revoked
// could lock up its key's whole budget this way). The Delegate reads the
// revocations again once it has carved: a Revoke that returned before
// then fails it, and the carve-out goes back. Nothing in between
// delegates as before (control).
func TestAttackDelegateRacesRevoke(t *testing.T) {
	for _, tc := range []struct {
		name string
		// revoke returns the id to revoke between the check and the carve,
		// given the token's id and the hop it was delegated through.
		revoke func(tok, hop string) string
	}{
		{"token revoked", func(tok, _ string) string { return tok }},
		{"parent hop revoked", func(_, hop string) string { return hop }},
		{"nothing (control)", func(string, string) string { return "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			st := &beforeCarveStore{Store: memory.New()}
			clock := newTestClock()
			c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, budgetPolicy)), agenttrust.WithClock(clock.Now), agenttrust.WithRandom(newSeededRandom()))
			must.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			secret, key, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Caveats: []string{"budget calls <= 10"}})
			must.NoError(t, err)
			tok, err := c.Exchange(ctx, secret)
			must.NoError(t, err)
			// A hop without a budget of its own: the new one below it
			// carves from the key.
			mid, hop, err := c.Delegate(ctx, tok, 0)
			must.NoError(t, err)
			id := tc.revoke(lastTokenID(t, tok), hop.ID)
			var revokeErr error
			if id != "" {
				st.hook = func() { revokeErr = c.Revoke(ctx, id) }
			}
			child, _, err := c.Delegate(ctx, mid, 0, "budget calls <= 4")
			must.NoError(t, revokeErr, "the revoke, between the delegation's check and its carve")
			rows, rerr := st.Budgets(ctx, "default", key.ID)
			must.NoError(t, rerr)
			must.Equal(t, 1, len(rows))
			if id == "" {
				must.NoError(t, err)
				must.NotEqual(t, "", child)
				must.EqualValues(t, 6, rows[0].Remaining(), "the live hop's carve-out is reserved")
				return
			}
			must.True(t, errors.Is(err, agenttrust.ErrRevoked), "Delegate of a token revoked before it carved: %v", err)
			must.Equal(t, "", child)
			must.EqualValues(t, 10, rows[0].Remaining(), "the carve-out of a hop under %s, revoked before Delegate returned, stays reserved", id)
		})
	}
}
