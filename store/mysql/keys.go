package mysql

import (
	"context"
	"database/sql"
	"errors"

	"github.com/agenttrust/agenttrust/store"
)

const (
	keyCols = `id, tenant, agent_id, hash, name, roles, allowed_ips, caveats, created_at, expires_at`

	// The primary key and the unique hash refuse a repeat of either.
	sqlCreateKey = `INSERT INTO {p}keys (` + keyCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlKeyByHash = `SELECT ` + keyCols + ` FROM {p}keys WHERE hash = ?`
	sqlKey       = `SELECT ` + keyCols + ` FROM {p}keys WHERE tenant = ? AND id = ?`
	sqlKeys      = `SELECT ` + keyCols + ` FROM {p}keys WHERE tenant = ? ORDER BY created_at, id`

	hopCols      = `id, tenant, parent, token_id, key_id, agent_id, caveats, created_at, expires_at`
	sqlCreateHop = `INSERT INTO {p}hops (` + hopCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
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
	return s.write(ctx, op, func(ctx context.Context) error {
		_, err := s.exec(ctx, nil, s.q.createKey, k.ID, k.Tenant, k.AgentID, k.Hash[:], k.Name,
			encodeList(k.Roles), encodeList(k.AllowedIPs), encodeList(k.Caveats), created, expires)
		if isDuplicate(err) {
			return conflict(op, "key %q or its hash exists", k.ID)
		}
		return err
	})
}

// KeyByHash implements store.Keys with one lookup on a unique index.
func (s *Store) KeyByHash(ctx context.Context, hash [32]byte) (store.Key, error) {
	const op = "key by hash"
	var k store.Key
	err := s.read(ctx, op, func(ctx context.Context) error {
		var err error
		k, err = scanKey(s.queryRow(ctx, nil, s.q.keyByHash, hash[:]))
		if errors.Is(err, sql.ErrNoRows) {
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
	err := s.read(ctx, op, func(ctx context.Context) error {
		var err error
		k, err = scanKey(s.queryRow(ctx, nil, s.q.key, tenant, id))
		if errors.Is(err, sql.ErrNoRows) {
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
	err := s.read(ctx, op, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.query(ctx, nil, s.q.keys, tenant)
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

func scanKey(row scanner) (store.Key, error) {
	var (
		k                   store.Key
		hash                []byte
		roles, ips, caveats []byte
		created, expires    sql.NullInt64
	)
	err := row.Scan(&k.ID, &k.Tenant, &k.AgentID, &hash, &k.Name, &roles, &ips, &caveats, &created, &expires)
	if err != nil {
		return store.Key{}, err
	}
	copy(k.Hash[:], hash)
	if k.Roles, err = decodeList(roles); err != nil {
		return store.Key{}, err
	}
	if k.AllowedIPs, err = decodeList(ips); err != nil {
		return store.Key{}, err
	}
	if k.Caveats, err = decodeList(caveats); err != nil {
		return store.Key{}, err
	}
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
	return s.write(ctx, op, func(ctx context.Context) error {
		_, err := s.exec(ctx, nil, s.q.createHop, h.ID, h.Tenant, h.Parent, h.TokenID, h.KeyID, h.AgentID,
			encodeList(h.Caveats), created, expires)
		if isDuplicate(err) {
			return conflict(op, "hop %q exists", h.ID)
		}
		return err
	})
}

// Hops implements store.Hops. f.Tenant always applies: the empty tenant
// selects the hops of the empty tenant.
func (s *Store) Hops(ctx context.Context, f store.HopFilter) ([]store.Hop, error) {
	const op = "hops"
	query := `SELECT ` + hopCols + ` FROM ` + s.prefix + `hops WHERE tenant = ?`
	args := []any{f.Tenant}
	if f.TokenID != "" {
		args = append(args, f.TokenID)
		query += ` AND token_id = ?`
	}
	if f.KeyID != "" {
		args = append(args, f.KeyID)
		query += ` AND key_id = ?`
	}
	query += ` ORDER BY created_at, id`
	var out []store.Hop
	err := s.read(ctx, op, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.query(ctx, nil, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				h                store.Hop
				caveats          []byte
				created, expires sql.NullInt64
			)
			if err := rows.Scan(&h.ID, &h.Tenant, &h.Parent, &h.TokenID, &h.KeyID, &h.AgentID, &caveats, &created, &expires); err != nil {
				return err
			}
			if h.Caveats, err = decodeList(caveats); err != nil {
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
