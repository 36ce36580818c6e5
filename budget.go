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

// budgetScratch is the budget phase's room in a pooled checkState, so a
// budgeted check reuses the chain it builds.
type budgetScratch struct {
	path    []store.BudgetNode
	limits  []store.BudgetLimit
	amounts []store.BudgetAmount
	names   []*cond.Cond
}

func (b *budgetScratch) reset() {
	clear(b.path)
	clear(b.limits)
	clear(b.amounts)
	clear(b.names)
	b.path, b.limits, b.amounts, b.names = b.path[:0], b.limits[:0], b.amounts[:0], b.names[:0]
}

// budgetChain builds the chain of a credential: its key, its token (when
// it is one) and its hops, each with the budgets it added (the smallest
// limit, where one node repeats a name); and, when names is not nil,
// appends to it one caveat of each name the chain holds.
func budgetChain(cr *credential, keyExpires time.Time, sc *budgetScratch, names bool) {
	path, limits := sc.path[:0], sc.limits[:0]
	path = append(path, store.BudgetNode{ID: cr.keyID, ExpiresAt: keyExpires})
	if cr.id != cr.keyID {
		path = append(path, store.BudgetNode{ID: cr.id, ExpiresAt: cr.expires})
	}
	var expires time.Time
	cur := 0 // the node whose caveats these are: the key, then each hop
	// A node's budgets are a run of limits (only the current node gains
	// any: the token's node, before the first hop, never does), start
	// where the current node's begin.
	start := 0
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
			path[cur].Budgets = limits[start:len(limits):len(limits)]
			path = append(path, store.BudgetNode{ID: cv.Value(), ExpiresAt: expires})
			cur, start = len(path)-1, len(limits)
		case cond.FieldBudget:
			name, limit := cv.BudgetName(), cv.BudgetLimit()
			found := false
			for j := start; j < len(limits); j++ {
				if b := &limits[j]; b.Name == name {
					b.Limit, found = min(b.Limit, limit), true
				}
			}
			if !found {
				limits = append(limits, store.BudgetLimit{Name: name, Limit: limit})
			}
			if names && !slices.ContainsFunc(sc.names, func(c *cond.Cond) bool { return c.BudgetName() == name }) {
				sc.names = append(sc.names, cv)
			}
		}
	}
	path[cur].Budgets = limits[start:len(limits):len(limits)]
	sc.path, sc.limits = path, limits
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
	sc := &st.budget
	budgetChain(&st.cred, keyExpires, sc, true)
	path, names := sc.path, sc.names
	path[0].Sealed = true // the key's budgets were made with it
	// The first to refuse is always the same.
	slices.SortFunc(names, func(a, b *cond.Cond) int { return strings.Compare(a.BudgetName(), b.BudgetName()) })
	sp := store.BudgetSpend{Tenant: c.tenant, Path: path, Now: now, Amounts: sc.amounts[:0]}
	// The request's currency picks, among the budgets of one attribute
	// with a currency, the one it spends: a budget in another currency is
	// passed over only when every node holding it also holds a budget of
	// that attribute in the request's currency covering its tool.
	// Otherwise it refuses, so no hop can open a currency its ancestors
	// did not budget, nor a budget of one tool open that currency to all.
	cur, _ := env.Attr(cond.CurrencyAttr)
	curText, _ := cur.(string)
	for _, cv := range names {
		name := cv.BudgetName()
		if !cv.BudgetCovers(req.Tool) {
			continue
		}
		if bc := cv.BudgetCurrency(); bc != "" && curText != bc && curText != "" && inCurrency(path, names, name, cv.Attr, curText, req.Tool) {
			continue
		}
		units, why := cv.BudgetAmount(env)
		if why != "" {
			v := denied(reasonBudgetAmount)
			v.rule = budgetRule(holderOf(path, name), name)
			return v, fmt.Errorf("%w: budget %q: %s", ErrUnevaluable, name, why)
		}
		sp.Amounts = append(sp.Amounts, store.BudgetAmount{Name: name, Amount: units})
	}
	sc.amounts = sp.Amounts
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
// also holds a budget of attribute attr in currency cur that covers tool:
// one that does not would let the request pass over both.
func inCurrency(path []store.BudgetNode, names []*cond.Cond, name, attr, cur, tool string) bool {
	byName := func(n string) *cond.Cond {
		for _, cv := range names {
			if cv.BudgetName() == n {
				return cv
			}
		}
		return nil
	}
	for _, n := range path {
		holds, other := false, false
		for _, b := range n.Budgets {
			holds = holds || b.Name == name
			if cv := byName(b.Name); cv.Attr == attr && cv.BudgetCurrency() == cur && cv.BudgetCovers(tool) {
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
// sealKey says the key's budgets were made already: all but CreateKey's.
func (c *Client) carveBudgets(ctx context.Context, cr *credential, keyExpires, now time.Time, sealKey bool) error {
	if !hasBudget(cr.conds) {
		return nil
	}
	bs, ok := c.store.(store.Budgeter)
	if !ok {
		return errs.NoBudgets
	}
	var sc budgetScratch
	budgetChain(cr, keyExpires, &sc, false)
	chain := sc.path
	chain[0].Sealed = sealKey
	// A panic of the store is its failure (an error matching
	// ErrInvalidConfig), as under Check: CreateKey carves before its
	// record, where nothing else would recover it.
	var ref store.BudgetRefusal
	err := recovered("carve budget", func() (err error) {
		ref, err = bs.SpendBudget(ctx, store.BudgetSpend{Tenant: c.tenant, Path: chain, Now: now})
		return err
	})
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
	if err := recovered("release budget", func() error { _, err := bs.ReleaseBudget(ctx, c.tenant, id); return err }); err != nil {
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
	return c.carveBudgets(ctx, &cr, expires, now, false)
}

// carveHopBudgets materialises the budgets of a new hop, added under hop
// to the verified token v, carving them out of its ancestors'. carved
// says it took a carve-out, which a delegation that then fails gives
// back (releaseCarve).
func (c *Client) carveHopBudgets(ctx context.Context, v *credential, hop string, added []string, now time.Time) (carved bool, err error) {
	cr := *v
	cr.hops = append(slices.Clone(v.hops), hop)
	cr.conds = slices.Clone(v.conds)
	budget := false
	for _, s := range added {
		cv, err := cond.Parse(s)
		if err != nil {
			return false, &CaveatError{Caveat: s, Msg: err.Error()}
		}
		budget = budget || cv.Field == cond.FieldBudget
		cr.conds = append(cr.conds, cv)
	}
	if !budget {
		return false, nil // nothing to carve: the hop spends its ancestors' budgets
	}
	if err := c.carveBudgets(ctx, &cr, time.Time{}, now, true); err != nil {
		return false, err // SpendBudget is all or nothing: nothing taken
	}
	return true, nil
}

// releaseCarveAfter bounds the give-back of a failed delegation's
// carve-out, which outlives the caller's context (see releaseCarve).
const releaseCarveAfter = 10 * time.Second

// releaseCarve gives the carve-out of hop, a delegation that failed
// after carving (its hop not stored), back to its parents, and returns
// cause, the failure, saying so when the carve-out could not be given
// back: the error is then the note of the delegation not performed
// (audited), so the trail tells of the budget held. The give-back runs
// even when the caller's context has ended, which may be what failed
// the delegation.
func (c *Client) releaseCarve(ctx context.Context, hop string, cause error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseCarveAfter)
	defer cancel()
	if err := c.releaseBudgets(rctx, hop); err != nil {
		return fmt.Errorf("%w; and its budget carve-out was not given back: %w", cause, err)
	}
	return cause
}
