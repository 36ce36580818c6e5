package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agenttrust/agenttrust/store"
)

const keyCols = `id, tenant, agent_id, hash, name, roles, allowed_ips, caveats, created_at, expires_at`

// scanKey reads one row of keyCols.
func scanKey(sc interface{ Scan(...any) error }) (store.Key, error) {
	var k store.Key
	var hash []byte
	var roles, ips, caveats sql.NullString
	var created, expires int64
	if err := sc.Scan(&k.ID, &k.Tenant, &k.AgentID, &hash, &k.Name, &roles, &ips, &caveats, &created, &expires); err != nil {
		return store.Key{}, err
	}
	if len(hash) != len(k.Hash) {
		return store.Key{}, fmt.Errorf("key %q: malformed hash", k.ID)
	}
	copy(k.Hash[:], hash)
	var err error
	if k.Roles, err = decList(roles); err != nil {
		return store.Key{}, fmt.Errorf("roles of key %q: %w", k.ID, err)
	}
	if k.AllowedIPs, err = decList(ips); err != nil {
		return store.Key{}, fmt.Errorf("allowed IPs of key %q: %w", k.ID, err)
	}
	if k.Caveats, err = decList(caveats); err != nil {
		return store.Key{}, fmt.Errorf("caveats of key %q: %w", k.ID, err)
	}
	k.CreatedAt, k.ExpiresAt = decTime(created), decTime(expires)
	return k, nil
}

// CreateKey implements store.Keys. Key ids, like hashes, are unique across
// tenants.
func (s *Store) CreateKey(ctx context.Context, k store.Key) error {
	const op = "create key"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if k.ID == "" {
		return invalid(op, "empty id in tenant %q", k.Tenant)
	}
	e := encoder{op: op}
	args := []any{
		k.ID, k.Tenant, k.AgentID, k.Hash[:], k.Name, e.list("Roles", k.Roles), e.list("AllowedIPs", k.AllowedIPs),
		e.list("Caveats", k.Caveats), e.time("CreatedAt", k.CreatedAt), e.time("ExpiresAt", k.ExpiresAt),
	}
	if e.err != nil {
		return e.err
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		err = s.fail(ctx, op, err)
		if errors.Is(err, store.ErrConflict) {
			// Not saying which of the two exists keeps the message free
			// of anything about another tenant's keys.
			return fmt.Errorf("%s: %s %q in tenant %q: id or hash exists: %w", prefix, op, k.ID, k.Tenant, store.ErrConflict)
		}
		return err
	}
	return nil
}

// KeyByHash implements store.Keys with one probe of the unique index on
// hash.
func (s *Store) KeyByHash(ctx context.Context, hash [32]byte) (store.Key, error) {
	const op = "key by hash"
	if err := s.ready(ctx, op); err != nil {
		return store.Key{}, err
	}
	k, err := scanKey(s.keyByHash.QueryRowContext(ctx, hash[:]))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Key{}, fmt.Errorf("%s: %s: %w", prefix, op, store.ErrNotFound)
	case err != nil:
		return store.Key{}, s.fail(ctx, op, err)
	}
	return k, nil
}

// Key implements store.Keys.
func (s *Store) Key(ctx context.Context, tenant, id string) (store.Key, error) {
	const op = "key"
	if err := s.ready(ctx, op); err != nil {
		return store.Key{}, err
	}
	if id == "" {
		return store.Key{}, invalid(op, "empty id in tenant %q", tenant)
	}
	k, err := scanKey(s.r.QueryRowContext(ctx, `SELECT `+keyCols+` FROM keys WHERE id = ? AND tenant = ?`, id, tenant))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Key{}, fmt.Errorf("%s: %s %q in tenant %q: %w", prefix, op, id, tenant, store.ErrNotFound)
	case err != nil:
		return store.Key{}, s.fail(ctx, op, err)
	}
	return k, nil
}

// Keys implements store.Keys.
func (s *Store) Keys(ctx context.Context, tenant string) ([]store.Key, error) {
	const op = "keys"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+keyCols+` FROM keys WHERE tenant = ? ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}
