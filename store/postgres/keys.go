package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/agenttrust/agenttrust/store"
)

const (
	keyCols = `id, tenant, agent_id, hash, name, roles, allowed_ips, caveats, created_at, expires_at`

	// ON CONFLICT without a target covers both the id and the hash.
	sqlCreateKey = `INSERT INTO keys (` + keyCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING`
	sqlKeyByHash = `SELECT ` + keyCols + ` FROM keys WHERE hash = $1`
	sqlKey       = `SELECT ` + keyCols + ` FROM keys WHERE tenant = $1 AND id = $2`
	sqlKeys      = `SELECT ` + keyCols + ` FROM keys WHERE tenant = $1 ORDER BY created_at NULLS FIRST, id`

	hopCols      = `id, tenant, parent, token_id, key_id, agent_id, caveats, created_at, expires_at`
	sqlCreateHop = `INSERT INTO hops (` + hopCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO NOTHING`
)

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
	created, err := storedTime("created at", k.CreatedAt)
	if err != nil {
		return err
	}
	expires, err := storedTime("expires at", k.ExpiresAt)
	if err != nil {
		return err
	}
	return s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		tag, err := c.Exec(ctx, sqlCreateKey, k.ID, k.Tenant, k.AgentID, k.Hash[:], k.Name,
			k.Roles, k.AllowedIPs, k.Caveats, created, expires)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return conflict(op, "key %q or its hash exists", k.ID)
		}
		return nil
	})
}

// KeyByHash implements store.Keys with one lookup on a unique index.
func (s *Store) KeyByHash(ctx context.Context, hash [32]byte) (store.Key, error) {
	const op = "key by hash"
	var k store.Key
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		k, err = scanKey(c.QueryRow(ctx, sqlKeyByHash, hash[:]))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "no key has the hash")
		}
		return err
	})
	if err != nil {
		return store.Key{}, err
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
	var k store.Key
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		k, err = scanKey(c.QueryRow(ctx, sqlKey, tenant, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "%q in tenant %q", id, tenant)
		}
		return err
	})
	if err != nil {
		return store.Key{}, err
	}
	return k, nil
}

// Keys implements store.Keys.
func (s *Store) Keys(ctx context.Context, tenant string) ([]store.Key, error) {
	const op = "keys"
	var out []store.Key
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		out = out[:0]
		rows, err := c.Query(ctx, sqlKeys, tenant)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func scanKey(row pgx.Row) (store.Key, error) {
	var (
		k                store.Key
		hash             []byte
		created, expires pgtype.Int8
	)
	err := row.Scan(&k.ID, &k.Tenant, &k.AgentID, &hash, &k.Name, &k.Roles, &k.AllowedIPs, &k.Caveats, &created, &expires)
	if err != nil {
		return store.Key{}, err
	}
	copy(k.Hash[:], hash)
	k.CreatedAt, k.ExpiresAt = loadTime(created), loadTime(expires)
	return k, nil
}

// CreateHop implements store.Hops. Hop ids are unique across tenants.
func (s *Store) CreateHop(ctx context.Context, h store.Hop) error {
	const op = "create hop"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if h.ID == "" {
		return invalid(op, "empty id in tenant %q", h.Tenant)
	}
	created, err := storedTime("created at", h.CreatedAt)
	if err != nil {
		return err
	}
	expires, err := storedTime("expires at", h.ExpiresAt)
	if err != nil {
		return err
	}
	return s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		tag, err := c.Exec(ctx, sqlCreateHop, h.ID, h.Tenant, h.Parent, h.TokenID, h.KeyID, h.AgentID,
			h.Caveats, created, expires)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return conflict(op, "hop %q exists", h.ID)
		}
		return nil
	})
}

// Hops implements store.Hops. f.Tenant always applies: the empty tenant
// selects the hops of the empty tenant.
func (s *Store) Hops(ctx context.Context, f store.HopFilter) ([]store.Hop, error) {
	const op = "hops"
	query := `SELECT ` + hopCols + ` FROM hops WHERE tenant = $1`
	args := []any{f.Tenant}
	if f.TokenID != "" {
		args = append(args, f.TokenID)
		query += ` AND token_id = $` + strconv.Itoa(len(args))
	}
	if f.KeyID != "" {
		args = append(args, f.KeyID)
		query += ` AND key_id = $` + strconv.Itoa(len(args))
	}
	query += ` ORDER BY created_at NULLS FIRST, id`
	var out []store.Hop
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		out = out[:0]
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				h                store.Hop
				created, expires pgtype.Int8
			)
			if err := rows.Scan(&h.ID, &h.Tenant, &h.Parent, &h.TokenID, &h.KeyID, &h.AgentID, &h.Caveats, &created, &expires); err != nil {
				return err
			}
			h.CreatedAt, h.ExpiresAt = loadTime(created), loadTime(expires)
			out = append(out, h)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
