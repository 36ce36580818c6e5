package memory

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.Budgeter = (*Store)(nil)

// budgets holds the rows of store.Budgeter under one mutex, as rates
// does: a spend plans on copies (store.PlanBudgetSpend) and writes them
// back before the mutex is released, so it is all or nothing and spends
// are serialised. A memdb write transaction would give the same, at
// several times the cost of a map on the path of every budgeted check.
type budgets struct {
	mu   sync.Mutex
	rows map[budgetKey]*store.BudgetRow
	// Room reused by each spend, under mu: the rows LockRows returned,
	// and where each is kept, so that Write finds them without hashing.
	scratch store.BudgetScratch
	locked  []store.BudgetRow
	at      []*store.BudgetRow
}

type budgetKey struct{ tenant, node, name string }

// budgetTx is store.BudgetTx over the map, with the mutex held.
type budgetTx struct{ b *budgets }

func (t budgetTx) LockRows(_ context.Context, tenant string, keys []store.BudgetKey) ([]store.BudgetRow, error) {
	out := slices.Grow(t.b.locked[:0], len(keys))[:len(keys)]
	at := slices.Grow(t.b.at[:0], len(keys))[:len(keys)]
	for i, k := range keys {
		at[i] = t.b.rows[budgetKey{tenant, k.Node, k.Name}]
		if at[i] != nil {
			out[i] = *at[i]
		} else {
			out[i] = store.BudgetRow{}
		}
	}
	t.b.locked, t.b.at = out, at
	return out, nil
}

func (t budgetTx) LockExpiredChildren(_ context.Context, tenant, holder, name string, now time.Time) ([]store.BudgetRow, error) {
	var out []store.BudgetRow
	for k, r := range t.b.rows {
		if k.tenant == tenant && r.Holder == holder && k.name == name && !r.Released && !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
			out = append(out, *r)
		}
	}
	return out, nil
}

func (t budgetTx) RowsUnder(_ context.Context, tenant, id string) ([]store.BudgetRow, error) {
	var out []store.BudgetRow
	for k, r := range t.b.rows {
		if k.tenant == tenant && !r.Released && r.Under(id) {
			out = append(out, *r)
		}
	}
	return out, nil
}

func (t budgetTx) Write(_ context.Context, ws []store.BudgetWrite) error {
	if t.b.rows == nil {
		t.b.rows = map[budgetKey]*store.BudgetRow{}
	}
next:
	for _, w := range ws {
		if !w.Insert {
			for i, r := range t.b.locked {
				if p := t.b.at[i]; p != nil && r.Tenant == w.Row.Tenant && r.Node == w.Row.Node && r.Name == w.Row.Name {
					*p = w.Row
					continue next
				}
			}
		}
		r := w.Row
		t.b.rows[budgetKey{r.Tenant, r.Node, r.Name}] = &r
	}
	return nil
}

// SpendBudget implements store.Budgeter.
func (s *Store) SpendBudget(ctx context.Context, sp store.BudgetSpend) (store.BudgetRefusal, error) {
	if err := s.ready(ctx, "spend budget"); err != nil {
		return store.BudgetRefusal{}, err
	}
	if err := sp.Validate(); err != nil {
		return store.BudgetRefusal{}, err
	}
	s.budgets.mu.Lock()
	defer s.budgets.mu.Unlock()
	return store.SpendBudgetScratch(ctx, budgetTx{&s.budgets}, &sp, &s.budgets.scratch)
}

// ReleaseBudget implements store.Budgeter.
func (s *Store) ReleaseBudget(ctx context.Context, tenant, id string) (int, error) {
	if err := s.ready(ctx, "release budget"); err != nil {
		return 0, err
	}
	s.budgets.mu.Lock()
	defer s.budgets.mu.Unlock()
	return store.ReleaseBudgetTx(ctx, budgetTx{&s.budgets}, tenant, id)
}

// Budgets implements store.Budgeter.
func (s *Store) Budgets(ctx context.Context, tenant, node string) ([]store.BudgetRow, error) {
	if err := s.ready(ctx, "budgets"); err != nil {
		return nil, err
	}
	s.budgets.mu.Lock()
	out := []store.BudgetRow{}
	for k, r := range s.budgets.rows {
		if k.tenant == tenant && k.node == node {
			out = append(out, *r)
		}
	}
	s.budgets.mu.Unlock()
	slices.SortFunc(out, func(a, b store.BudgetRow) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
