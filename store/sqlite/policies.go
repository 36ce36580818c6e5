package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agenttrust/agenttrust/store"
)

// Policy implements store.Policies.
func (s *Store) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	const op = "policy"
	if err := s.ready(ctx, op); err != nil {
		return store.PolicyDoc{}, err
	}
	d := store.PolicyDoc{Tenant: tenant}
	var updated int64
	err := s.r.QueryRowContext(ctx, `SELECT version, format, body, updated_at FROM policies WHERE tenant = ?`, tenant).
		Scan(&d.Version, &d.Format, &d.Body, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.PolicyDoc{}, fmt.Errorf("%s: %s of tenant %q: %w", prefix, op, tenant, store.ErrNotFound)
	case err != nil:
		return store.PolicyDoc{}, s.fail(ctx, op, err)
	}
	d.Body = nullBytes(d.Body)
	d.UpdatedAt = decTime(updated)
	return d, nil
}

// PutPolicy implements store.Policies. doc.Version is ignored.
func (s *Store) PutPolicy(ctx context.Context, doc store.PolicyDoc, expectVersion int64) (store.PolicyDoc, error) {
	const op = "put policy"
	if err := s.ready(ctx, op); err != nil {
		return store.PolicyDoc{}, err
	}
	e := encoder{op: op}
	updated := e.time("UpdatedAt", doc.UpdatedAt)
	if e.err != nil {
		return store.PolicyDoc{}, e.err
	}
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		var version int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM policies WHERE tenant = ?`, doc.Tenant).Scan(&version)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return s.fail(ctx, op, err)
		}
		if version != expectVersion {
			return fmt.Errorf("%s: %s of tenant %q: stored version is %d, not %d: %w",
				prefix, op, doc.Tenant, version, expectVersion, store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO policies (tenant, version, format, body, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant) DO UPDATE SET
				version = excluded.version, format = excluded.format, body = excluded.body, updated_at = excluded.updated_at`,
			doc.Tenant, expectVersion+1, doc.Format, blob(doc.Body), updated)
		if err != nil {
			return s.fail(ctx, op, err)
		}
		return nil
	})
	if err != nil {
		return store.PolicyDoc{}, err
	}
	doc.Body = bytes.Clone(doc.Body)
	doc.Version = expectVersion + 1
	return doc, nil
}
