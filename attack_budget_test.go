package agenttrust_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// Attacks on budgets (see budget.go and SECURITY.md section 18). The
// fixtures are in budget_test.go.

// A delegation carves its budget out of its parent's remaining one: the
// child spends only that, the parent keeps the rest, and a child that
// asks for more than the parent has left is refused.
func TestAttackBudgetCarveMoreThanParent(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget calls <= 10")
	tok, err := f.c.Exchange(t.Context(), secret)
	must.NoError(t, err)
	child, hop, err := f.c.Delegate(t.Context(), tok, 0, "budget calls <= 4")
	must.NoError(t, err)
	must.EqualValues(t, 6, remaining(t, f, keyID, "calls"), "the carve-out is reserved at delegation")
	for range 4 {
		mustAllow(t, f, child, "mail.read", nil)
	}
	mustBudgetDeny(t, f, child, "mail.read", nil, "budget:"+hop.ID+"/calls")
	// The attack: a child carving more than the parent has.
	_, _, err = f.c.Delegate(t.Context(), tok, 0, "budget calls <= 7")
	must.Error(t, err)
	must.ErrorIs(t, err, agenttrust.ErrUnauthorized)
	must.Contains(t, err.Error(), "budget:"+keyID+"/calls")
	_, _, err = f.c.Delegate(t.Context(), child, 0, "budget calls <= 1")
	must.ErrorContains(t, err, "budget:"+hop.ID+"/calls", "a grandchild carves from its exhausted parent")
	// The parent spends its own six, not the child's.
	for range 6 {
		mustAllow(t, f, tok, "mail.read", nil)
	}
	mustBudgetDeny(t, f, tok, "mail.read", nil, "budget:"+keyID+"/calls")
}

// A budget caveat cannot widen: appending a larger one to a token (with
// the attacker's own tools, no hop) leaves the smaller in force, and one
// that disagrees with the materialised row is refused outright.
func TestAttackBudgetCaveatCannotWiden(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget calls <= 2")
	tok, err := f.c.Exchange(t.Context(), secret)
	must.NoError(t, err)
	wide := agenttrust.AttenuateUncheckedForTest(tok, "budget calls <= 1000")
	mustAllow(t, f, wide, "mail.read", nil)
	mustAllow(t, f, wide, "mail.read", nil)
	mustBudgetDeny(t, f, wide, "mail.read", nil, "budget:"+keyID+"/calls")

	f2 := newFixture(t, budgetPolicy)
	secret2, keyID2 := budgetKey(t, f2, "budget calls <= 5")
	tok2, err := f2.c.Exchange(t.Context(), secret2)
	must.NoError(t, err)
	narrow := agenttrust.AttenuateUncheckedForTest(tok2, "budget calls <= 1")
	d := mustBudgetDeny(t, f2, narrow, "mail.read", nil, "budget:"+keyID2+"/calls")
	expect.Contains(t, d.Reason, "does not match")
	// On a hop: a wider budget appended after the hop's own.
	hopTok, err := agenttrust.Attenuate(tok2, "budget calls <= 1")
	must.NoError(t, err)
	widened := agenttrust.AttenuateUncheckedForTest(hopTok, "budget calls <= 4")
	mustAllow(t, f2, widened, "mail.read", nil)
	mustBudgetDeny(t, f2, widened, "mail.read", nil, "budget:"+lastHop(t, hopTok)+"/calls")
	mustBudgetDeny(t, f2, hopTok, "mail.read", nil, "budget:"+lastHop(t, hopTok)+"/calls")
	must.EqualValues(t, 4, remaining(t, f2, keyID2, "calls"))
}

// Revoking a delegation returns its unspent carve-out to its parent;
// replaying the revoked token spends nothing.
func TestAttackBudgetReplayAfterRevoke(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget calls <= 10")
	tok, err := f.c.Exchange(t.Context(), secret)
	must.NoError(t, err)
	child, hop, err := f.c.Delegate(t.Context(), tok, 0, "budget calls <= 6")
	must.NoError(t, err)
	offline, err := agenttrust.Attenuate(child, "budget calls <= 3")
	must.NoError(t, err)
	mustAllow(t, f, child, "mail.read", nil)
	mustAllow(t, f, offline, "mail.read", nil)
	must.EqualValues(t, 4, remaining(t, f, keyID, "calls"))
	must.NoError(t, f.c.Revoke(t.Context(), hop.ID))
	must.EqualValues(t, 8, remaining(t, f, keyID, "calls"), "6 carved, 2 spent: 4 come back")
	for _, cred := range []string{child, offline} {
		d, err := check(t, f, cred, "mail.read", nil)
		must.ErrorIs(t, err, agenttrust.ErrRevoked)
		must.Equal(t, agenttrust.Deny, d.Effect)
	}
	must.EqualValues(t, 8, remaining(t, f, keyID, "calls"), "a replay after revoke spent")
	// Revoking a token releases the hops below it too.
	child2, _, err := f.c.Delegate(t.Context(), tok, 0, "budget calls <= 5")
	must.NoError(t, err)
	mustAllow(t, f, child2, "mail.read", nil)
	must.EqualValues(t, 3, remaining(t, f, keyID, "calls"))
	must.NoError(t, f.c.Revoke(t.Context(), lastTokenID(t, tok)))
	must.EqualValues(t, 7, remaining(t, f, keyID, "calls"))
}

func TestAttackBudgetAmounts(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget attr.amount <= 50 USD")
	usd := func(v any) map[string]any { return map[string]any{"amount": v, "currency": "USD"} }
	rule := "budget:" + keyID + "/attr.amount USD"
	mustAllow(t, f, secret, "payments.charge", usd(30))
	mustBudgetDeny(t, f, secret, "payments.charge", usd(20.000001), rule)
	mustAllow(t, f, secret, "payments.charge", usd(json.Number("19.5")))
	must.EqualValues(t, 500_000, remaining(t, f, keyID, "attr.amount USD"))
	for name, attrs := range map[string]map[string]any{
		"missing":          {"currency": "USD"},
		"string":           usd("0.1"),
		"negative":         usd(-5),
		"negative float":   usd(-0.01),
		"NaN":              usd(math.NaN()),
		"infinite":         usd(math.Inf(1)),
		"huge":             usd(uint64(math.MaxUint64)),
		"overflowing":      usd(int64(math.MaxInt64)),
		"huge float":       usd(1e300),
		"bool":             usd(true),
		"no currency":      {"amount": 0.1},
		"another currency": {"amount": 0.1, "currency": "EUR"},
		"underflowing":     usd(json.Number("1e-400")),
		"underflowing neg": usd(json.Number("-1e-400")),
		"subnormal":        usd(json.Number("5e-320")),
	} {
		d, err := check(t, f, secret, "payments.charge", attrs)
		expect.Equal(t, agenttrust.Deny, d.Effect, name)
		expect.Equal(t, rule, d.Rule, name)
		if name != "string" || err != nil { // every one fails closed
			expect.Error(t, err, name)
		}
	}
	must.EqualValues(t, 500_000, remaining(t, f, keyID, "attr.amount USD"), "a refused amount spent")
	mustAllow(t, f, secret, "payments.charge", usd(0.5))
	mustBudgetDeny(t, f, secret, "payments.charge", usd(0.000001), rule)
	// An amount too small for a float64 is not free: ParseFloat makes
	// 1e-400 a 0, which an exhausted budget would still allow.
	for range 3 {
		d, err := check(t, f, secret, "payments.charge", usd(json.Number("1e-400")))
		must.ErrorIs(t, err, agenttrust.ErrUnevaluable)
		must.Equal(t, agenttrust.Deny, d.Effect, "decision %+v", d)
		must.Equal(t, rule, d.Rule, "decision %+v", d)
	}
	must.EqualValues(t, 0, remaining(t, f, keyID, "attr.amount USD"))
}

// Two currencies never mix: each request spends the budget of its own
// currency, and a hop cannot open a currency its key did not budget.
func TestAttackBudgetTwoCurrencies(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, keyID := budgetKey(t, f, "budget attr.amount <= 50 USD", "budget attr.amount <= 10 EUR")
	in := func(cur string, v any) map[string]any { return map[string]any{"amount": v, "currency": cur} }
	mustAllow(t, f, secret, "payments.charge", in("EUR", 10))
	mustBudgetDeny(t, f, secret, "payments.charge", in("EUR", 1), "budget:"+keyID+"/attr.amount EUR")
	mustAllow(t, f, secret, "payments.charge", in("USD", 50))
	mustBudgetDeny(t, f, secret, "payments.charge", in("USD", 1), "budget:"+keyID+"/attr.amount USD")
	mustBudgetDeny(t, f, secret, "payments.charge", in("GBP", 1), "budget:"+keyID+"/attr.amount EUR")

	f2 := newFixture(t, budgetPolicy)
	secret2, keyID2 := budgetKey(t, f2, "budget attr.amount <= 50 USD")
	tok, err := f2.c.Exchange(t.Context(), secret2)
	must.NoError(t, err)
	euros, err := agenttrust.Attenuate(tok, "budget attr.amount <= 1000 EUR")
	must.NoError(t, err)
	mustBudgetDeny(t, f2, euros, "payments.charge", in("EUR", 5), "budget:"+keyID2+"/attr.amount USD")
}

// budgetless hides the store's Budgeter.
type budgetless struct{ store.Store }

// brokenBudgets fails every spend.
type brokenBudgets struct {
	store.Store
	store.Budgeter
}

func (brokenBudgets) SpendBudget(context.Context, store.BudgetSpend) (store.BudgetRefusal, error) {
	return store.BudgetRefusal{}, fmt.Errorf("spend: %w", store.ErrUnavailable)
}

// A budgeted credential over a store that holds no budgets, or one that
// fails, is denied: never unlimited.
func TestAttackBudgetFailsClosed(t *testing.T) {
	f := newFixture(t, budgetPolicy)
	secret, _ := budgetKey(t, f, "budget calls <= 100")
	for name, st := range map[string]store.Store{
		"no Budgeter": budgetless{f.st},
		"store down":  brokenBudgets{f.st, f.st.(store.Budgeter)},
	} {
		c, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, budgetPolicy)), agenttrust.WithClock(f.clock.Now))
		must.NoError(t, err)
		d, err := c.Check(t.Context(), agenttrust.Request{Tool: "mail.read", Credential: secret})
		must.Error(t, err, name)
		must.Equal(t, agenttrust.Deny, d.Effect, name)
		if name == "store down" {
			must.ErrorIs(t, err, agenttrust.ErrStoreUnavailable)
		}
		_, _, err = c.CreateKey(t.Context(), agenttrust.KeySpec{AgentID: "a", Caveats: []string{"budget calls <= 1"}})
		if name == "no Budgeter" {
			must.ErrorIs(t, err, agenttrust.ErrInvalidConfig)
		}
		// An unbudgeted credential is not affected.
		plain, _, err := c.CreateKey(t.Context(), agenttrust.KeySpec{AgentID: "b"})
		must.NoError(t, err)
		d, err = c.Check(t.Context(), agenttrust.Request{Tool: "mail.read", Credential: plain})
		must.NoError(t, err)
		must.Equal(t, agenttrust.Allow, d.Effect)
		must.NoError(t, c.Close())
	}
}
