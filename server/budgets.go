package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// getBudgets answers GET /v1/budgets/{id}: the budgets a key, token or
// hop of the caller's tenant holds, with what remains of each; an empty
// list for a node that holds none (or was never used).
func (s *Server) getBudgets(c *call) error {
	id := c.r.PathValue("id")
	if err := validID("node id", id, ""); err != nil {
		return err
	}
	bs, ok := s.st.(store.Budgeter)
	if !ok {
		return storeErr("budgets", fmt.Errorf("the store holds no budgets: %w", store.ErrUnavailable))
	}
	rows, err := bs.Budgets(c.r.Context(), c.p.Tenant, id)
	if err != nil {
		return storeErr("budgets", err)
	}
	now := s.now()
	out := wire.BudgetList{Node: id, Budgets: make([]wire.BudgetView, 0, len(rows))}
	for _, r := range rows {
		scale := int64(1)
		if strings.HasPrefix(r.Name, "attr.") {
			scale = cond.BudgetScale
		}
		// A released or expired budget refuses every spend: nothing
		// remains of it, whatever its row still counts (returned to its
		// holder, or to be when the holder reclaims it).
		remaining := r.Remaining()
		if r.Released || !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
			remaining = 0
		}
		out.Budgets = append(out.Budgets, wire.BudgetView{Name: r.Name, Limit: r.Limit, Spent: r.Spent, Carved: r.Carved,
			Remaining: remaining, Scale: scale, Holder: r.Holder, ExpiresAt: r.ExpiresAt, Released: r.Released})
	}
	writeJSON(c, http.StatusOK, out)
	return nil
}
