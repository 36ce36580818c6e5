package storeapi

import (
	"context"
	"fmt"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// The hierarchical budgets of store.Budgeter, over the wire: a spend is
// one call, all or nothing in the served store's own transaction.

type (
	wireBudgetLimit struct {
		Name  string `json:"name"`
		Limit int64  `json:"limit"`
	}
	wireBudgetNode struct {
		ID        string            `json:"id"`
		ExpiresAt time.Time         `json:"expires_at,omitzero"`
		Budgets   []wireBudgetLimit `json:"budgets,omitempty"`
		Sealed    bool              `json:"sealed,omitempty"`
	}
	wireBudgetAmount struct {
		Name   string `json:"name"`
		Amount int64  `json:"amount"`
	}
	spendBudgetReq struct {
		Tenant  string             `json:"tenant"`
		Path    []wireBudgetNode   `json:"path"`
		Amounts []wireBudgetAmount `json:"amounts,omitempty"`
		Now     time.Time          `json:"now"`
	}
	spendBudgetResp struct {
		Node   string `json:"node,omitempty"`
		Name   string `json:"name,omitempty"`
		Reason string `json:"reason,omitempty"`
	}
	releaseBudgetReq struct {
		Tenant string `json:"tenant"`
		ID     string `json:"id"`
	}
	releaseBudgetResp struct {
		Released int `json:"released"`
	}
	budgetsReq struct {
		Tenant string `json:"tenant"`
		Node   string `json:"node"`
	}
	wireBudgetRow struct {
		Tenant      string    `json:"tenant"`
		Node        string    `json:"node"`
		Name        string    `json:"name"`
		Holder      string    `json:"holder,omitempty"`
		Path        string    `json:"path"`
		Depth       int       `json:"depth"`
		Limit       int64     `json:"limit"`
		Spent       int64     `json:"spent"`
		Carved      int64     `json:"carved"`
		CarvedSpent int64     `json:"carved_spent"`
		CreatedAt   time.Time `json:"created_at"`
		ExpiresAt   time.Time `json:"expires_at,omitzero"`
		Released    bool      `json:"released,omitempty"`
	}
	budgetsResp struct {
		Rows []wireBudgetRow `json:"rows"`
	}
)

func toWireSpend(s *store.BudgetSpend) *spendBudgetReq {
	w := &spendBudgetReq{Tenant: s.Tenant, Now: utc(s.Now)}
	for _, n := range s.Path {
		wn := wireBudgetNode{ID: n.ID, ExpiresAt: utc(n.ExpiresAt), Sealed: n.Sealed}
		for _, b := range n.Budgets {
			wn.Budgets = append(wn.Budgets, wireBudgetLimit(b))
		}
		w.Path = append(w.Path, wn)
	}
	for _, a := range s.Amounts {
		w.Amounts = append(w.Amounts, wireBudgetAmount(a))
	}
	return w
}

func (w *spendBudgetReq) model() store.BudgetSpend {
	s := store.BudgetSpend{Tenant: w.Tenant, Now: w.Now}
	for _, n := range w.Path {
		bn := store.BudgetNode{ID: n.ID, ExpiresAt: n.ExpiresAt, Sealed: n.Sealed}
		for _, b := range n.Budgets {
			bn.Budgets = append(bn.Budgets, store.BudgetLimit(b))
		}
		s.Path = append(s.Path, bn)
	}
	for _, a := range w.Amounts {
		s.Amounts = append(s.Amounts, store.BudgetAmount(a))
	}
	return s
}

func toWireBudgetRow(r store.BudgetRow) wireBudgetRow {
	return wireBudgetRow{Tenant: r.Tenant, Node: r.Node, Name: r.Name, Holder: r.Holder, Path: r.Path, Depth: r.Depth,
		Limit: r.Limit, Spent: r.Spent, Carved: r.Carved, CarvedSpent: r.CarvedSpent,
		CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt), Released: r.Released}
}

func (w *wireBudgetRow) model() store.BudgetRow {
	return store.BudgetRow{Tenant: w.Tenant, Node: w.Node, Name: w.Name, Holder: w.Holder, Path: w.Path, Depth: w.Depth,
		Limit: w.Limit, Spent: w.Spent, Carved: w.Carved, CarvedSpent: w.CarvedSpent,
		CreatedAt: w.CreatedAt, ExpiresAt: w.ExpiresAt, Released: w.Released}
}

// budgeterOf returns the Budgeter of the served store; a store that is
// not one answers as unavailable, so a node spending through it denies.
func budgeterOf(st store.Store) (store.Budgeter, error) {
	b, ok := st.(store.Budgeter)
	if !ok {
		return nil, fmt.Errorf("%s the served store holds no budgets: %w", prefix, store.ErrUnavailable)
	}
	return b, nil
}

func budgetRoutes() []*route {
	return []*route{
		// Not idempotent: a spend repeated after a lost answer spends
		// twice, which can only leave less budget.
		op("spend_budget", false, func(ctx context.Context, st store.Store, in *spendBudgetReq) (*spendBudgetResp, error) {
			b, err := budgeterOf(st)
			if err != nil {
				return nil, err
			}
			ref, err := b.SpendBudget(ctx, in.model())
			return &spendBudgetResp{Node: ref.Node, Name: ref.Name, Reason: string(ref.Reason)}, err
		}),
		op("release_budget", true, func(ctx context.Context, st store.Store, in *releaseBudgetReq) (*releaseBudgetResp, error) {
			b, err := budgeterOf(st)
			if err != nil {
				return nil, err
			}
			n, err := b.ReleaseBudget(ctx, in.Tenant, in.ID)
			return &releaseBudgetResp{Released: n}, err
		}),
		op("budgets", true, func(ctx context.Context, st store.Store, in *budgetsReq) (*budgetsResp, error) {
			b, err := budgeterOf(st)
			if err != nil {
				return nil, err
			}
			rows, err := b.Budgets(ctx, in.Tenant, in.Node)
			out := &budgetsResp{Rows: []wireBudgetRow{}}
			for _, r := range rows {
				out.Rows = append(out.Rows, toWireBudgetRow(r))
			}
			return out, err
		}),
	}
}

var _ store.Budgeter = (*Client)(nil)

// SpendBudget implements store.Budgeter through the served store, which
// must implement it too: otherwise every spend fails with
// store.ErrUnavailable.
func (c *Client) SpendBudget(ctx context.Context, s store.BudgetSpend) (store.BudgetRefusal, error) {
	if err := s.Validate(); err != nil {
		return store.BudgetRefusal{}, err
	}
	var out spendBudgetResp
	if err := c.call(ctx, "spend_budget", toWireSpend(&s), &out); err != nil {
		return store.BudgetRefusal{}, err
	}
	ref := store.BudgetRefusal{Node: out.Node, Name: out.Name, Reason: store.BudgetReason(out.Reason)}
	if ref.Refused() != (ref.Node != "") {
		return store.BudgetRefusal{}, fmt.Errorf("%s spend_budget: a refusal without the budget that refused: %w", prefix, store.ErrUnavailable)
	}
	return ref, nil
}

// ReleaseBudget implements store.Budgeter.
func (c *Client) ReleaseBudget(ctx context.Context, tenant, id string) (int, error) {
	var out releaseBudgetResp
	if err := c.call(ctx, "release_budget", &releaseBudgetReq{Tenant: tenant, ID: id}, &out); err != nil {
		return 0, err
	}
	return out.Released, nil
}

// Budgets implements store.Budgeter.
func (c *Client) Budgets(ctx context.Context, tenant, node string) ([]store.BudgetRow, error) {
	var out budgetsResp
	if err := c.call(ctx, "budgets", &budgetsReq{Tenant: tenant, Node: node}, &out); err != nil {
		return nil, err
	}
	rows := make([]store.BudgetRow, len(out.Rows))
	for i := range out.Rows {
		rows[i] = out.Rows[i].model()
	}
	return rows, nil
}
