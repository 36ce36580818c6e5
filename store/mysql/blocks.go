package mysql

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

const (
	// A repeated revocation keeps the first reason and creation time and
	// the later expiry, NULL (never) winning: the new expiry is passed
	// twice.
	sqlRevoke = `INSERT INTO {p}blocks (tenant, id, kind, reason, created_at, expires_at)
VALUES (?, ?, 1, ?, ?, ?)
ON DUPLICATE KEY UPDATE expires_at =
	IF(expires_at IS NULL OR ? IS NULL, NULL, GREATEST(expires_at, ?))`

	sqlSuspend = `INSERT INTO {p}blocks (tenant, id, kind, reason, created_at, expires_at)
VALUES (?, ?, 2, ?, ?, ?)
ON DUPLICATE KEY UPDATE reason = ?`

	sqlResume = `DELETE FROM {p}blocks WHERE tenant = ? AND id = ? AND kind = 2`

	sqlPruneSelect = `SELECT tenant, id FROM {p}blocks WHERE kind = 1 AND expires_at <= ? ORDER BY tenant, id FOR UPDATE`
	sqlPruneDelete = `DELETE FROM {p}blocks WHERE kind = 1 AND expires_at <= ?`

	sqlBlocked = `SELECT id, kind, reason, created_at, expires_at FROM {p}blocks WHERE tenant = ? AND id IN `

	blockOrder     = ` ORDER BY created_at, id, tenant, kind`
	sqlBlocks      = `SELECT tenant, id, kind, reason, created_at, expires_at FROM {p}blocks WHERE tenant = ?` + blockOrder
	sqlBlocksEvery = `SELECT tenant, id, kind, reason, created_at, expires_at FROM {p}blocks` + blockOrder
)

// maxKeptIDs is the largest id list Blocked runs as a kept statement;
// lists are padded to a power of two up to it, so that few statements are
// kept. Longer lists are sent as a one-off statement.
const maxKeptIDs = 64

// Revoke implements store.Revocations. A repeated revocation keeps the
// first Reason and CreatedAt and the later ExpiresAt.
func (s *Store) Revoke(ctx context.Context, b store.Block) error {
	const op = "revoke"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if b.ID == "" {
		return invalid(op, "empty id in tenant %q", b.Tenant)
	}
	created, expires, err := blockTimes(b)
	if err != nil {
		return err
	}
	return s.write(ctx, op, func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := s.exec(ctx, tx, s.q.revoke, b.Tenant, b.ID, b.Reason, created, expires, expires, expires); err != nil {
				return err
			}
			return s.logChanges(ctx, tx, changeBlock, [][2]string{{b.Tenant, b.ID}})
		})
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
		return invalid(op, "empty id in tenant %q", b.Tenant)
	}
	created, expires, err := blockTimes(b)
	if err != nil {
		return err
	}
	return s.write(ctx, op, func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := s.exec(ctx, tx, s.q.suspend, b.Tenant, b.ID, b.Reason, created, expires, b.Reason); err != nil {
				return err
			}
			return s.logChanges(ctx, tx, changeBlock, [][2]string{{b.Tenant, b.ID}})
		})
	})
}

func blockTimes(b store.Block) (created, expires sql.NullInt64, err error) {
	if created, err = storedTime("created at", b.CreatedAt); err != nil {
		return
	}
	expires, err = storedTime("expires at", b.ExpiresAt)
	return
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
	return s.write(ctx, op, func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := s.exec(ctx, tx, s.q.resume, tenant, id)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return notFound(op, "%q in tenant %q is not suspended", id, tenant)
			}
			return s.logChanges(ctx, tx, changeBlock, [][2]string{{tenant, id}})
		})
	})
}

// Blocked implements store.Revocations with one query for all ids.
func (s *Store) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	const op = "blocked"
	if err := s.ready(ctx, op); err != nil {
		return store.Block{}, false, err
	}
	if len(ids) == 0 {
		return store.Block{}, false, nil
	}
	// Pad the list to a kept statement's length by repeating the last id.
	n := len(ids)
	if n <= maxKeptIDs {
		n = 1
		for n < len(ids) {
			n *= 2
		}
	}
	args := make([]any, 0, n+1)
	args = append(args, tenant)
	for i := range n {
		args = append(args, ids[min(i, len(ids)-1)])
	}
	var query string
	if n <= maxKeptIDs {
		query = s.q.blockedIn[bits.Len(uint(n))-1]
	} else {
		query = s.q.blocked + "(?" + strings.Repeat(", ?", n-1) + ")"
	}
	var (
		found   store.Block
		foundAt = -1 // index in ids of found
	)
	err := s.read(ctx, op, func(ctx context.Context) error {
		found, foundAt = store.Block{}, -1
		rows, err := s.query(ctx, nil, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			id               string
			kind             int16
			reason           string
			created, expires sql.NullInt64
		)
		for rows.Next() {
			if err := rows.Scan(&id, &kind, &reason, &created, &expires); err != nil {
				return err
			}
			at := indexOf(ids, id)
			// Revocations first, then the earliest id in ids.
			if foundAt >= 0 && (store.BlockKind(kind) > found.Kind || store.BlockKind(kind) == found.Kind && at > foundAt) {
				continue
			}
			found = store.Block{
				Tenant: tenant, ID: id, Kind: store.BlockKind(kind), Reason: reason,
				CreatedAt: loadTime(created), ExpiresAt: loadTime(expires),
			}
			foundAt = at
		}
		return rows.Err()
	})
	if err != nil || foundAt < 0 {
		return store.Block{}, false, err
	}
	return found, true, nil
}

func indexOf(ids []string, id string) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return len(ids)
}

// Blocks implements store.Revocations. Blocks with the same CreatedAt and
// ID are further ordered by tenant, then revocation before suspension.
func (s *Store) Blocks(ctx context.Context, tenant string) ([]store.Block, error) {
	const op = "blocks"
	query, args := s.q.blocks, []any{tenant}
	if tenant == "" {
		query, args = s.q.blocksEvery, nil
	}
	var out []store.Block
	err := s.read(ctx, op, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.query(ctx, nil, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				b                store.Block
				kind             int16
				created, expires sql.NullInt64
			)
			if err := rows.Scan(&b.Tenant, &b.ID, &kind, &b.Reason, &created, &expires); err != nil {
				return err
			}
			b.Kind = store.BlockKind(kind)
			b.CreatedAt, b.ExpiresAt = loadTime(created), loadTime(expires)
			out = append(out, b)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PruneRevocations implements store.Revocations.
func (s *Store) PruneRevocations(ctx context.Context, now time.Time) (int, error) {
	const op = "prune revocations"
	var n int
	err := s.write(ctx, op, func(ctx context.Context) error {
		n = 0
		return s.inTx(ctx, func(tx *sql.Tx) error {
			cut := compareTime(now)
			rows, err := s.query(ctx, tx, s.q.pruneSelect, cut)
			if err != nil {
				return err
			}
			var gone [][2]string
			for rows.Next() {
				var tenant, id string
				if err := rows.Scan(&tenant, &id); err != nil {
					rows.Close()
					return err
				}
				gone = append(gone, [2]string{tenant, id})
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(gone) == 0 {
				return nil
			}
			// The rows are locked: the delete removes exactly them.
			if _, err := s.exec(ctx, tx, s.q.pruneDelete, cut); err != nil {
				return err
			}
			n = len(gone)
			return s.logChanges(ctx, tx, changeBlock, gone)
		})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
