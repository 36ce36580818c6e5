package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/agenttrust/agenttrust/store"
)

// Blocked implements store.Revocations. It finds the tenant's ids through
// one atomic load of an immutable map, then looks up each id: no lock, no
// allocation.
func (s *Store) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	if err := s.ready(ctx, "blocked"); err != nil {
		return store.Block{}, false, err
	}
	m := (*s.blocks.Load())[tenant]
	if m == nil || m.n.Load() == 0 {
		return store.Block{}, false, nil
	}
	var suspended *store.Block
	for _, id := range ids {
		v, ok := m.ids.Load(id)
		if !ok {
			continue
		}
		e := v.(*blockEntry)
		if e.revoked != nil {
			return *e.revoked, true, nil
		}
		if suspended == nil {
			suspended = e.suspended
		}
	}
	if suspended != nil {
		return *suspended, true, nil
	}
	return store.Block{}, false, nil
}

// Revoke implements store.Revocations. A repeated revocation keeps the
// first Reason and CreatedAt and the later ExpiresAt.
func (s *Store) Revoke(ctx context.Context, b store.Block) error {
	const op = "revoke"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if b.ID == "" {
		return invalid(op, b.Tenant, "empty id")
	}
	b.Kind = store.Revoked
	return s.putBlock(op, b, func(old store.Block) store.Block {
		old.ExpiresAt = laterExpiry(old.ExpiresAt, b.ExpiresAt)
		return old
	})
}

// Suspend implements store.Agents. A repeated suspension replaces the
// Reason and keeps the rest of the first one.
func (s *Store) Suspend(ctx context.Context, b store.Block) error {
	const op = "suspend"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if b.ID == "" {
		return invalid(op, b.Tenant, "empty id")
	}
	b.Kind = store.Suspended
	return s.putBlock(op, b, func(old store.Block) store.Block {
		old.Reason = b.Reason
		return old
	})
}

// putBlock stores b, or merge(existing) when b's tenant, id and kind are
// already stored, publishes the result to the hot snapshot and tells the
// watchers.
func (s *Store) putBlock(op string, b store.Block, merge func(store.Block) store.Block) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableBlocks, indexID, b.Tenant, b.ID, b.Kind.String())
	if err != nil {
		return internal(op, err)
	}
	if raw != nil {
		b = merge(*raw.(*store.Block))
	}
	row := &b
	if err := txn.Insert(tableBlocks, row); err != nil {
		return internal(op, err)
	}
	txn.Commit()

	s.setBlock(b.Tenant, b.ID, b.Kind, row)
	s.publish(store.Change{Kind: store.ChangeBlock, Tenant: b.Tenant, ID: b.ID})
	return nil
}

// Resume implements store.Agents.
func (s *Store) Resume(ctx context.Context, tenant, id string) error {
	const op = "resume"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if id == "" {
		return invalid(op, tenant, "empty id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableBlocks, indexID, tenant, id, store.Suspended.String())
	if err != nil {
		return internal(op, err)
	}
	if raw == nil {
		return fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: not suspended: %w", op, id, tenant, store.ErrNotFound)
	}
	if err := txn.Delete(tableBlocks, raw); err != nil {
		return internal(op, err)
	}
	txn.Commit()

	s.setBlock(tenant, id, store.Suspended, nil)
	s.publish(store.Change{Kind: store.ChangeBlock, Tenant: tenant, ID: id})
	return nil
}

// Blocks implements store.Revocations. Blocks with the same CreatedAt and
// ID are further ordered by tenant, then revocation before suspension.
func (s *Store) Blocks(ctx context.Context, tenant string) ([]store.Block, error) {
	const op = "blocks"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	it, err := s.scanTenant(s.db.Txn(false), tableBlocks, tenant)
	if err != nil {
		return nil, internal(op, err)
	}
	var out []store.Block
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, *raw.(*store.Block))
	}
	slices.SortFunc(out, func(a, b store.Block) int {
		return cmp.Or(
			a.CreatedAt.Compare(b.CreatedAt),
			strings.Compare(a.ID, b.ID),
			strings.Compare(a.Tenant, b.Tenant),
			cmp.Compare(a.Kind, b.Kind),
		)
	})
	return out, nil
}

// PruneRevocations implements store.Revocations.
func (s *Store) PruneRevocations(ctx context.Context, now time.Time) (int, error) {
	const op = "prune revocations"
	if err := s.ready(ctx, op); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	txn := s.db.Txn(true)
	defer txn.Abort()
	it, err := txn.Get(tableBlocks, indexID)
	if err != nil {
		return 0, internal(op, err)
	}
	var expired []*store.Block
	for raw := it.Next(); raw != nil; raw = it.Next() {
		b := raw.(*store.Block)
		if b.Kind == store.Revoked && !b.ExpiresAt.IsZero() && !b.ExpiresAt.After(now) {
			expired = append(expired, b)
		}
	}
	if len(expired) == 0 {
		return 0, nil
	}
	for _, b := range expired {
		if err := txn.Delete(tableBlocks, b); err != nil {
			return 0, internal(op, err)
		}
	}
	txn.Commit()

	for _, b := range expired {
		s.setBlock(b.Tenant, b.ID, store.Revoked, nil)
	}
	// One change per lifted revocation, in the order of the index.
	for _, b := range expired {
		s.publish(store.Change{Kind: store.ChangeBlock, Tenant: b.Tenant, ID: b.ID})
	}
	return len(expired), nil
}

// scanTenant iterates over the rows of table in tenant, or in every tenant
// when tenant is empty.
func (s *Store) scanTenant(txn *memdb.Txn, table, tenant string) (memdb.ResultIterator, error) {
	if tenant == "" {
		return txn.Get(table, indexID)
	}
	return txn.Get(table, indexIDPrefix, tenant)
}

// setBlock sets id's block of kind in the hot view to b, or lifts it
// when b is nil. The caller holds s.mu, which orders the writes of the
// view as those of the table. Each id changes alone, by replacing its
// entry: a check sees an id either before or after a write, never half
// of it, and a write that has returned is seen by every later check.
func (s *Store) setBlock(tenant, id string, kind store.BlockKind, b *store.Block) {
	all := *s.blocks.Load()
	m := all[tenant]
	if m == nil {
		if b == nil {
			return
		}
		m = &tenantBlocks{}
		next := maps.Clone(all)
		if next == nil {
			next = blockMap{}
		}
		next[tenant] = m
		s.blocks.Store(&next)
	}
	var e blockEntry
	old, had := m.ids.Load(id)
	if had {
		e = *old.(*blockEntry)
	}
	if kind == store.Revoked {
		e.revoked = b
	} else {
		e.suspended = b
	}
	switch {
	case e.revoked == nil && e.suspended == nil:
		if had {
			m.ids.Delete(id)
			m.n.Add(-1)
		}
	case had:
		m.ids.Store(id, &e)
	default:
		// Counted before it is stored: a check that finds the count zero
		// and skips the lookup ran before the write returned.
		m.n.Add(1)
		m.ids.Store(id, &e)
	}
}

// laterExpiry returns the later of two expiries, where zero (never) is the
// latest of all.
func laterExpiry(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if b.After(a) {
		return b
	}
	return a
}
