package agenttrust

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store"
)

// Budgets, the last phase of Check before the audit: see package doc
// "Budgets" and store.Budgeter for the model.
//
// A credential's chain is its API key, its token and each hop, root
// first. A budget caveat belongs to the node that added it: those before
// the first "hop" caveat (the key's own, copied into every token) to the
// key, those after a hop to that hop. So every token of a key spends the
// key's one budget, and a hop's budget is carved out of the nearest
// ancestor holding a budget of the same name.

const (
	reasonBudget        = "budget exhausted"
	reasonBudgetNoStore = "budgets unavailable"
	reasonBudgetAmount  = "budget amount unavailable"
)

// budgetRule is the rule of a decision a budget refused.
func budgetRule(node, name string) string { return "budget:" + node + "/" + name }

// hasBudget reports whether any of conds is a budget caveat.
func hasBudget(conds []cond.Cond) bool {
	for i := range conds {
		if conds[i].Field == cond.FieldBudget {
			return true
		}
	}
	return false
}

// budgetChain builds the chain of a credential: its key, its token (when
// it is one) and its hops, each with the budgets it added (the smallest
// limit, where one node repeats a name) and, where *byName is not nil,
// the caveat of each name.
func budgetChain(cr *credential, keyExpires time.Time, byName map[string]*cond.Cond) []store.BudgetNode {
	path := make([]store.BudgetNode, 1, 2+len(cr.hops))
	path[0] = store.BudgetNode{ID: cr.keyID, ExpiresAt: keyExpires}
	if cr.id != cr.keyID {
		path = append(path, store.BudgetNode{ID: cr.id, ExpiresAt: cr.expires})
	}
	var expires time.Time
	cur := 0 // the node whose caveats these are: the key, then each hop
	for i := range cr.conds {
		cv := &cr.conds[i]
		switch cv.Field {
		case cond.FieldExpires:
			if t, _ := cv.Expires(); expires.IsZero() || t.Before(expires) {
				expires = t
			}
			if cur != 0 {
				// A hop's own expiry follows its hop caveat; before the
				// first hop it is the token's, not the key's.
				path[cur].ExpiresAt = expires
			}
		case cond.FieldHop:
			path = append(path, store.BudgetNode{ID: cv.Value(), ExpiresAt: expires})
			cur = len(path) - 1
		case cond.FieldBudget:
			name, limit := cv.BudgetName(), cv.BudgetLimit()
			if byName != nil {
				byName[name] = cv
			}
			node, found := &path[cur], false
			for j := range node.Budgets {
				if b := &node.Budgets[j]; b.Name == name {
					b.Limit, found = min(b.Limit, limit), true
				}
			}
			if !found {
				node.Budgets = append(node.Budgets, store.BudgetLimit{Name: name, Limit: limit})
			}
		}
	}
	return path
}

// spendBudgets is Check's budget phase: for a verdict that allows, made
// with a credential that carries budgets, it spends what the request
// costs under each budget that covers its tool, all or nothing across
// the chain, and denies naming the budget that refused. Any other
// verdict passes unchanged, so nothing is spent on a deny or on a
// request waiting for approval.
func (c *Client) spendBudgets(ctx context.Context, req *Request, now time.Time, st *checkState, env *cond.Env, v verdict) (verdict, error) {
	if v.effect != Allow || !v.done || !hasBudget(st.cred.conds) {
		return v, nil
	}
	bs, ok := c.store.(store.Budgeter)
	if !ok {
		return denied(reasonBudgetNoStore), errs.NoBudgets
	}
	var keyExpires time.Time
	if st.cred.key != nil {
		keyExpires = st.cred.key.key.ExpiresAt
	}
	byName := map[string]*cond.Cond{}
	sp := store.BudgetSpend{Tenant: c.tenant, Path: budgetChain(&st.cred, keyExpires, byName), Now: now}
	// The request's currency picks, among the budgets of one attribute
	// with a currency, the one it spends: a budget in another currency is
	// passed over only when every node holding it also holds a budget of
	// that attribute in the request's currency. Otherwise it refuses, so
	// no hop can open a currency its ancestors did not budget.
	cur, _ := env.Attr(cond.CurrencyAttr)
	curText, _ := cur.(string)
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names) // the first to refuse is always the same
	for _, name := range names {
		cv := byName[name]
		if !cv.BudgetCovers(req.Tool) {
			continue
		}
		if bc := cv.BudgetCurrency(); bc != "" && curText != bc && curText != "" && inCurrency(sp.Path, byName, name, cv.Attr, curText) {
			continue
		}
		units, why := cv.BudgetAmount(env)
		if why != "" {
			v := denied(reasonBudgetAmount)
			v.rule = budgetRule(holderOf(sp.Path, name), name)
			return v, fmt.Errorf("%w: budget %q: %s", ErrUnevaluable, name, why)
		}
		sp.Amounts = append(sp.Amounts, store.BudgetAmount{Name: name, Amount: units})
	}
	ref, err := bs.SpendBudget(ctx, sp)
	if err != nil {
		return denied(reasonStoreDown), storeErr("spend budget", err)
	}
	if ref.Refused() {
		v := denied(reasonBudget + ": " + string(ref.Reason))
		v.rule = budgetRule(ref.Node, ref.Name)
		return v, nil
	}
	return v, nil
}

// inCurrency reports whether every node of path holding the budget name
// also holds a budget of attribute attr in currency cur.
func inCurrency(path []store.BudgetNode, byName map[string]*cond.Cond, name, attr, cur string) bool {
	for _, n := range path {
		holds, other := false, false
		for _, b := range n.Budgets {
			holds = holds || b.Name == name
			if cv := byName[b.Name]; cv.Attr == attr && cv.BudgetCurrency() == cur {
				other = true
			}
		}
		if holds && !other {
			return false
		}
	}
	return true
}

// holderOf returns the deepest node of path holding a budget named name.
func holderOf(path []store.BudgetNode, name string) string {
	for i := len(path) - 1; i >= 0; i-- {
		for _, b := range path[i].Budgets {
			if b.Name == name {
				return path[i].ID
			}
		}
	}
	return ""
}

// carveBudgets materialises the budgets of a credential's chain,
// carving each new one out of its parent's remaining budget, and spends
// nothing: for CreateKey and Delegate, so that a budget that does not fit
// is refused when it is made rather than at its first use.
func (c *Client) carveBudgets(ctx context.Context, cr *credential, keyExpires, now time.Time) error {
	if !hasBudget(cr.conds) {
		return nil
	}
	bs, ok := c.store.(store.Budgeter)
	if !ok {
		return errs.NoBudgets
	}
	ref, err := bs.SpendBudget(ctx, store.BudgetSpend{Tenant: c.tenant, Path: budgetChain(cr, keyExpires, nil), Now: now})
	if err != nil {
		return storeErr("carve budget", err)
	}
	if ref.Refused() {
		return fmt.Errorf("%w: %s: %s", errs.BudgetRefused, budgetRule(ref.Node, ref.Name), ref.Reason)
	}
	return nil
}

// releaseBudgets returns to their parents the unspent carve-outs of the
// budgets at and below id, once id is revoked.
func (c *Client) releaseBudgets(ctx context.Context, id string) error {
	bs, ok := c.store.(store.Budgeter)
	if !ok {
		return nil
	}
	if _, err := bs.ReleaseBudget(ctx, c.tenant, id); err != nil {
		return storeErr("release budget", err)
	}
	return nil
}

// noTokenBudget refuses budget caveats on Exchange: a budget belongs to a
// key (every token of which spends it) or to a delegation.
func noTokenBudget(caveats []string) error {
	for _, s := range caveats {
		if strings.HasPrefix(s, "budget ") {
			return &CaveatError{Caveat: s, Msg: "a budget goes on the key, or on a delegation (Delegate, Attenuate), not on Exchange"}
		}
	}
	return nil
}

// carveKeyBudgets materialises the budgets a new key's caveats declare.
func (c *Client) carveKeyBudgets(ctx context.Context, id string, caveats []string, expires, now time.Time) error {
	cr := credential{id: id, keyID: id}
	for _, s := range caveats {
		if cv, err := cond.Parse(s); err == nil && cv.Field == cond.FieldBudget {
			cr.conds = append(cr.conds, cv)
		}
	}
	return c.carveBudgets(ctx, &cr, expires, now)
}

// carveHopBudgets materialises the budgets of a new hop, added under hop
// to the verified token v, carving them out of its ancestors'.
func (c *Client) carveHopBudgets(ctx context.Context, v *credential, hop string, added []string, now time.Time) error {
	cr := *v
	cr.hops = append(slices.Clone(v.hops), hop)
	cr.conds = slices.Clone(v.conds)
	budget := false
	for _, s := range added {
		cv, err := cond.Parse(s)
		if err != nil {
			return &CaveatError{Caveat: s, Msg: err.Error()}
		}
		budget = budget || cv.Field == cond.FieldBudget
		cr.conds = append(cr.conds, cv)
	}
	if !budget {
		return nil // nothing to carve: the hop spends its ancestors' budgets
	}
	return c.carveBudgets(ctx, &cr, time.Time{}, now)
}
