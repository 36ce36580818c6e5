package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/agenttrust/agenttrust/store"
)

const hopCols = `id, tenant, parent, token_id, key_id, agent_id, caveats, created_at, expires_at`

// CreateHop implements store.Hops. Hop ids are unique across tenants.
func (s *Store) CreateHop(ctx context.Context, h store.Hop) error {
	const op = "create hop"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if h.ID == "" {
		return invalid(op, "empty id in tenant %q", h.Tenant)
	}
	e := encoder{op: op}
	args := []any{
		h.ID, h.Tenant, h.Parent, h.TokenID, h.KeyID, h.AgentID, e.list("Caveats", h.Caveats),
		e.time("CreatedAt", h.CreatedAt), e.time("ExpiresAt", h.ExpiresAt),
	}
	if e.err != nil {
		return e.err
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO hops (`+hopCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		err = s.fail(ctx, op, err)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%s: %s %q in tenant %q: id exists: %w", prefix, op, h.ID, h.Tenant, store.ErrConflict)
		}
		return err
	}
	return nil
}

// Hops implements store.Hops. f.Tenant always applies: the empty tenant
// is a tenant like any other.
func (s *Store) Hops(ctx context.Context, f store.HopFilter) ([]store.Hop, error) {
	const op = "hops"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	var b strings.Builder
	args := []any{f.Tenant}
	b.WriteString(`SELECT ` + hopCols + ` FROM hops WHERE tenant = ?`)
	if f.TokenID != "" {
		b.WriteString(` AND token_id = ?`)
		args = append(args, f.TokenID)
	}
	if f.KeyID != "" {
		b.WriteString(` AND key_id = ?`)
		args = append(args, f.KeyID)
	}
	b.WriteString(` ORDER BY created_at, id`)
	rows, err := s.r.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []store.Hop
	for rows.Next() {
		var h store.Hop
		var caveats sql.NullString
		var created, expires int64
		if err := rows.Scan(&h.ID, &h.Tenant, &h.Parent, &h.TokenID, &h.KeyID, &h.AgentID, &caveats, &created, &expires); err != nil {
			return nil, s.fail(ctx, op, err)
		}
		if h.Caveats, err = decList(caveats); err != nil {
			return nil, s.fail(ctx, op, fmt.Errorf("caveats of hop %q: %w", h.ID, err))
		}
		h.CreatedAt, h.ExpiresAt = decTime(created), decTime(expires)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}
