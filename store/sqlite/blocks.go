package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// The kind column holds store.Revoked (1) and store.Suspended (2), so that
// revocations sort first. Queries name the kinds as literals, which lets
// the planner use the partial index on revocations.

// maxPreparedIDs is how many ids the prepared Blocked statements take at
// most; a check presents an agent, a session, a credential and its hops,
// so more is rare and builds its statement on the spot.
const maxPreparedIDs = 8

// blockedQuery returns the statement of Blocked for n ids: ?1 is the
// tenant, ?2 to ?n+1 the ids. The primary key (tenant, id, kind) answers
// it with one probe per id; revocations (kind 1) come first, then the
// order of the ids.
func blockedQuery(n int) string {
	var b strings.Builder
	b.WriteString(`SELECT id, kind, reason, created_at, expires_at FROM blocks WHERE tenant = ?1 AND id IN (`)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?" + strconv.Itoa(i+2))
	}
	b.WriteString(`) ORDER BY kind, CASE id`)
	for i := range n {
		b.WriteString(" WHEN ?" + strconv.Itoa(i+2) + " THEN " + strconv.Itoa(i))
	}
	b.WriteString(` END LIMIT 1`)
	return b.String()
}

// Blocked implements store.Revocations in one indexed query.
func (s *Store) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	const op = "blocked"
	if err := s.ready(ctx, op); err != nil {
		return store.Block{}, false, err
	}
	if len(ids) == 0 {
		return store.Block{}, false, nil
	}
	if v := s.vs.view.Load(); v != nil {
		b, ok := v.blocked(tenant, ids)
		return b, ok, nil
	}
	args := make([]any, len(ids)+1)
	args[0] = tenant
	for i, id := range ids {
		args[i+1] = id
	}
	var row *sql.Row
	if len(ids) <= maxPreparedIDs {
		row = s.blocked[len(ids)-1].QueryRowContext(ctx, args...)
	} else {
		row = s.r.QueryRowContext(ctx, blockedQuery(len(ids)), args...)
	}
	b := store.Block{Tenant: tenant}
	var kind, created, expires int64
	switch err := row.Scan(&b.ID, &kind, &b.Reason, &created, &expires); {
	case errors.Is(err, sql.ErrNoRows):
		return store.Block{}, false, nil
	case err != nil:
		return store.Block{}, false, s.fail(ctx, op, err)
	}
	b.Kind, b.CreatedAt, b.ExpiresAt = store.BlockKind(kind), decTime(created), decTime(expires)
	return b, true, nil
}

// Revoke implements store.Revocations. A repeated revocation keeps the
// first Reason and CreatedAt and the later ExpiresAt.
func (s *Store) Revoke(ctx context.Context, b store.Block) error {
	return s.putBlock(ctx, "revoke", store.Revoked, b, `ON CONFLICT (tenant, id, kind) DO UPDATE SET expires_at =
		CASE WHEN expires_at = ?6 OR excluded.expires_at = ?6 THEN ?6 ELSE max(expires_at, excluded.expires_at) END`)
}

// Suspend implements store.Agents. A repeated suspension replaces the
// Reason and keeps the rest of the first one.
func (s *Store) Suspend(ctx context.Context, b store.Block) error {
	return s.putBlock(ctx, "suspend", store.Suspended, b, `ON CONFLICT (tenant, id, kind) DO UPDATE SET reason = excluded.reason`)
}

// putBlock inserts b as a block of kind, or applies onConflict to the
// stored one, in one statement. ?6 in onConflict is the zero time.
func (s *Store) putBlock(ctx context.Context, op string, kind store.BlockKind, b store.Block, onConflict string) error {
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if b.ID == "" {
		return invalid(op, "empty id in tenant %q", b.Tenant)
	}
	e := encoder{op: op}
	created, expires := e.time("CreatedAt", b.CreatedAt), e.time("ExpiresAt", b.ExpiresAt)
	if e.err != nil {
		return e.err
	}
	return s.writeBlock(ctx, op, b.Tenant, b.ID, func(x execer) error {
		_, err := x.ExecContext(ctx, `INSERT INTO blocks (tenant, id, kind, reason, created_at, expires_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?7) `+onConflict,
			b.Tenant, b.ID, int64(kind), b.Reason, created, int64(zeroTime), expires)
		if err != nil {
			return s.fail(ctx, op, err)
		}
		return nil
	})
}

// Resume implements store.Agents.
func (s *Store) Resume(ctx context.Context, tenant, id string) error {
	const op = "resume"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if id == "" {
		return invalid(op, "empty id in tenant %q", tenant)
	}
	return s.writeBlock(ctx, op, tenant, id, func(x execer) error {
		res, err := x.ExecContext(ctx, `DELETE FROM blocks WHERE tenant = ? AND id = ? AND kind = 2`, tenant, id)
		if err != nil {
			return s.fail(ctx, op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return s.fail(ctx, op, err)
		} else if n == 0 {
			return fmt.Errorf("%s: %s %q in tenant %q: not suspended: %w", prefix, op, id, tenant, store.ErrNotFound)
		}
		return nil
	})
}

// Blocks implements store.Revocations. Blocks with the same CreatedAt and
// ID are further ordered by tenant, then revocation before suspension.
func (s *Store) Blocks(ctx context.Context, tenant string) ([]store.Block, error) {
	const op = "blocks"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	const cols = `SELECT tenant, id, kind, reason, created_at, expires_at FROM blocks`
	var rows *sql.Rows
	var err error
	if tenant == "" {
		rows, err = s.r.QueryContext(ctx, cols+` ORDER BY created_at, id, tenant, kind`)
	} else {
		rows, err = s.r.QueryContext(ctx, cols+` WHERE tenant = ? ORDER BY created_at, id, kind`, tenant)
	}
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []store.Block
	for rows.Next() {
		var b store.Block
		var kind, created, expires int64
		if err := rows.Scan(&b.Tenant, &b.ID, &kind, &b.Reason, &created, &expires); err != nil {
			return nil, s.fail(ctx, op, err)
		}
		b.Kind, b.CreatedAt, b.ExpiresAt = store.BlockKind(kind), decTime(created), decTime(expires)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// PruneRevocations implements store.Revocations.
func (s *Store) PruneRevocations(ctx context.Context, now time.Time) (int, error) {
	const op = "prune revocations"
	if err := s.ready(ctx, op); err != nil {
		return 0, err
	}
	if now.IsZero() {
		return 0, nil // no non-zero expiry is at or before the zero time
	}
	if s.vs.view.Load() != nil {
		return s.pruneView(ctx, op, now)
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM blocks WHERE kind = 1 AND expires_at > ? AND expires_at <= ?`,
		int64(zeroTime), clampTime(now))
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	return int(n), nil
}

// execer is what a write of the blocks table runs its statement on: the
// write connection, or the transaction that also reads the result back
// for the view.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// writeBlock runs fn, a write of the blocks of (tenant, id). With a view,
// it runs in a transaction that reads those blocks back, under blockMu,
// and the view holds them before writeBlock returns (see view.go).
func (s *Store) writeBlock(ctx context.Context, op, tenant, id string, fn func(execer) error) error {
	if s.vs.view.Load() == nil {
		return fn(s.w)
	}
	s.vs.blockMu.Lock()
	defer s.vs.blockMu.Unlock()
	v := s.vs.view.Load()
	if v == nil {
		return fn(s.w)
	}
	var bs []store.Block
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		var err error
		if bs, err = readBlocks(ctx, tx, tenant, id); err != nil {
			return s.fail(ctx, op, err)
		}
		return nil
	})
	if err != nil {
		// Most likely rolled back; read what the table holds to be sure.
		s.refreshBlock(ctx, v, tenant, id)
		return err
	}
	v.replace(tenant, id, bs)
	return nil
}

// refreshBlock sets the view's blocks of (tenant, id) to the table's,
// after a write that failed; when they cannot be read the view is dropped
// and Blocked reads the table from then on. blockMu is held.
func (s *Store) refreshBlock(ctx context.Context, v *blockView, tenant, id string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	bs, err := readBlocks(rctx, s.w, tenant, id)
	if err != nil {
		s.vs.view.Store(nil)
		return
	}
	v.replace(tenant, id, bs)
}

// pruneView is PruneRevocations with a view: the pruned ids come back
// from the DELETE and leave the view before it returns.
func (s *Store) pruneView(ctx context.Context, op string, now time.Time) (int, error) {
	s.vs.blockMu.Lock()
	defer s.vs.blockMu.Unlock()
	v := s.vs.view.Load()
	var keys []blockKey
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM blocks WHERE kind = 1 AND expires_at > ? AND expires_at <= ? RETURNING tenant, id`,
			int64(zeroTime), clampTime(now))
		if err != nil {
			return s.fail(ctx, op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var k blockKey
			if err := rows.Scan(&k.tenant, &k.id); err != nil {
				return s.fail(ctx, op, err)
			}
			keys = append(keys, k)
		}
		if err := rows.Err(); err != nil {
			return s.fail(ctx, op, err)
		}
		return nil
	})
	if v == nil {
		return len(keys), err
	}
	if err != nil {
		// Most likely rolled back; load the table again to be sure.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		nv, lerr := loadView(rctx, s.w)
		if lerr != nil {
			nv = nil
		}
		s.vs.view.Store(nv)
		return 0, err
	}
	v.dropRevocations(keys)
	return len(keys), nil
}
