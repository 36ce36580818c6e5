package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/agenttrust/agenttrust/store"
)

// CreateHop implements store.Hops. Hop ids are unique across tenants; an
// empty id is refused with store.ErrInvalid.
func (s *Store) CreateHop(ctx context.Context, h store.Hop) error {
	const op = "create hop"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if h.ID == "" {
		return invalid(op, h.Tenant, "empty id")
	}
	row := cloneHop(h)

	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableHops, indexID, h.ID)
	if err != nil {
		return internal(op, err)
	}
	if raw != nil {
		return fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: id exists: %w", op, h.ID, h.Tenant, store.ErrConflict)
	}
	if err := txn.Insert(tableHops, &row); err != nil {
		return internal(op, err)
	}
	txn.Commit()
	return nil
}

// Hops implements store.Hops. f.Tenant selects one tenant, the empty
// tenant included; it never means every tenant.
func (s *Store) Hops(ctx context.Context, f store.HopFilter) ([]store.Hop, error) {
	const op = "hops"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	it, err := s.db.Txn(false).Get(tableHops, indexTenantPrefix, f.Tenant)
	if err != nil {
		return nil, internal(op, err)
	}
	var rows []*store.Hop
	for raw := it.Next(); raw != nil; raw = it.Next() {
		h := raw.(*store.Hop)
		if (f.TokenID == "" || h.TokenID == f.TokenID) && (f.KeyID == "" || h.KeyID == f.KeyID) {
			rows = append(rows, h)
		}
	}
	slices.SortFunc(rows, func(a, b *store.Hop) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	out := make([]store.Hop, len(rows))
	for i, h := range rows {
		out[i] = cloneHop(*h)
	}
	return out, nil
}
