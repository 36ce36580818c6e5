package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.Grants = (*Store)(nil)

func cloneGrant(g store.Grant) store.Grant {
	g.Resources = slices.Clone(g.Resources)
	g.CreatedByCredentials = slices.Clone(g.CreatedByCredentials)
	return g
}

// CreateGrant implements store.Grants.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant) error {
	const op = "create grant"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if g.ID == "" {
		return invalid(op, g.Tenant, "empty id")
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableGrants, indexID, g.Tenant, g.ID)
	if err != nil {
		return internal(op, err)
	}
	if raw != nil {
		return fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: id exists: %w", op, g.ID, g.Tenant, store.ErrConflict)
	}
	row := cloneGrant(g)
	if err := txn.Insert(tableGrants, &row); err != nil {
		return internal(op, err)
	}
	txn.Commit()
	return nil
}

// Grants implements store.Grants.
func (s *Store) Grants(ctx context.Context, tenant, agentID, tool string, now time.Time) ([]store.Grant, error) {
	const op = "grants"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	it, err := s.db.Txn(false).Get(tableGrants, indexIDPrefix, tenant)
	if err != nil {
		return nil, internal(op, err)
	}
	var out []store.Grant
	for raw := it.Next(); raw != nil; raw = it.Next() {
		g := raw.(*store.Grant)
		if g.Tenant != tenant || g.UsesLeft <= 0 || !g.ExpiresAt.After(now) ||
			agentID != "" && g.AgentID != agentID || tool != "" && g.Tool != tool {
			continue
		}
		out = append(out, cloneGrant(*g))
	}
	slices.SortFunc(out, func(a, b store.Grant) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// UseGrant implements store.Grants.
func (s *Store) UseGrant(ctx context.Context, tenant, id string, now time.Time) (store.Grant, error) {
	const op = "use grant"
	if err := s.ready(ctx, op); err != nil {
		return store.Grant{}, err
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableGrants, indexID, tenant, id)
	if err != nil {
		return store.Grant{}, internal(op, err)
	}
	if raw == nil || raw.(*store.Grant).UsesLeft <= 0 || !raw.(*store.Grant).ExpiresAt.After(now) {
		return store.Grant{}, fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: no use left: %w", op, id, tenant, store.ErrNotFound)
	}
	g := cloneGrant(*raw.(*store.Grant))
	g.UsesLeft--
	row := cloneGrant(g)
	if err := txn.Insert(tableGrants, &row); err != nil {
		return store.Grant{}, internal(op, err)
	}
	txn.Commit()
	return g, nil
}

// EndGrant implements store.Grants.
func (s *Store) EndGrant(ctx context.Context, tenant, id string) error {
	const op = "end grant"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableGrants, indexID, tenant, id)
	if err != nil {
		return internal(op, err)
	}
	if raw == nil {
		return fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: %w", op, id, tenant, store.ErrNotFound)
	}
	g := cloneGrant(*raw.(*store.Grant))
	g.UsesLeft = 0
	if err := txn.Insert(tableGrants, &g); err != nil {
		return internal(op, err)
	}
	txn.Commit()
	return nil
}

var _ store.GrantReader = (*Store)(nil)

// Grant implements store.GrantReader.
func (s *Store) Grant(ctx context.Context, tenant, id string) (store.Grant, error) {
	const op = "grant"
	if err := s.ready(ctx, op); err != nil {
		return store.Grant{}, err
	}
	raw, err := s.db.Txn(false).First(tableGrants, indexID, tenant, id)
	if err != nil {
		return store.Grant{}, internal(op, err)
	}
	if raw == nil {
		return store.Grant{}, fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: %w", op, id, tenant, store.ErrNotFound)
	}
	return cloneGrant(*raw.(*store.Grant)), nil
}
