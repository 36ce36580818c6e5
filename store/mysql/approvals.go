package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

const (
	approvalCols = `tenant, id, fingerprint, agent_id, session_id, on_behalf_of, tool, resource,
	attributes, rule, reason, approvers, status, created_at, expires_at,
	decided_at, decided_by, note, grant_expires_at, consumed_at, decided_by_key, decided_by_credentials`

	approvalOrder = ` ORDER BY created_at, id, tenant`

	sqlCreateApproval = `INSERT INTO {p}approvals (` + approvalCols + `)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, NULL, '', '', NULL, NULL, NULL, NULL)`

	sqlApproval = `SELECT ` + approvalCols + ` FROM {p}approvals WHERE tenant = ? AND id = ?`

	// One UPDATE decides: of concurrent deciders, the first takes the row
	// lock and the others, reading the row again once it commits, no
	// longer find it pending.
	sqlDecideApproval = `UPDATE {p}approvals
SET status = ?, decided_at = ?, decided_by = ?, note = ?, grant_expires_at = ?, decided_by_key = ?,
	decided_by_credentials = ?
WHERE tenant = ? AND id = ? AND status = 'pending' AND expires_at > ?`

	sqlApprovalState = `SELECT status, expires_at FROM {p}approvals WHERE tenant = ? AND id = ?`

	// The UPDATE takes the row lock: a consumer that locked the row first
	// has made it consumed by the time this reads it, and one that comes
	// second reads it denied.
	sqlWithdrawApproval = `UPDATE {p}approvals SET status = 'denied', decided_at = ?, decided_by = ?, note = ?, decided_by_key = ?, decided_by_credentials = ?
WHERE tenant = ? AND id = ? AND status = 'approved'`

	// The oldest live approved approval is locked and consumed in one
	// transaction. A concurrent consumer waits for the lock, then reads
	// the row as committed (consumed, so no longer a candidate) and takes
	// the next candidate, or finds none. (SKIP LOCKED would not wait, but
	// under REPEATABLE READ it also skips rows locked only as the
	// neighbours of another fingerprint's candidates, and would report a
	// live approval as missing.)
	sqlConsumeCandidate = `SELECT ` + approvalCols + ` FROM {p}approvals
WHERE tenant = ? AND fingerprint = ? AND status = 'approved' AND grant_expires_at > ?
ORDER BY created_at, id
LIMIT 1
FOR UPDATE`

	sqlConsume = `UPDATE {p}approvals SET status = 'consumed', consumed_at = ? WHERE tenant = ? AND id = ?`

	sqlPendingApproval = `SELECT ` + approvalCols + ` FROM {p}approvals
WHERE tenant = ? AND fingerprint = ? AND status = 'pending' AND expires_at > ?
ORDER BY created_at, id
LIMIT 1`
)

// CreateApproval implements store.Approvals. Ids are unique per tenant. The
// approval is stored pending, without a decision, whatever a says about
// its status and decision.
func (s *Store) CreateApproval(ctx context.Context, a store.Approval) error {
	const op = "create approval"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if a.ID == "" {
		return invalid(op, "empty id in tenant %q", a.Tenant)
	}
	created, err := storedTime("created at", a.CreatedAt)
	if err != nil {
		return err
	}
	expires, err := storedTime("expires at", a.ExpiresAt)
	if err != nil {
		return err
	}
	approvers := encodeList(a.Approvers)
	return s.write(ctx, op, func(ctx context.Context) error {
		_, err := s.exec(ctx, nil, s.q.createApproval,
			a.Tenant, a.ID, a.Fingerprint, a.AgentID, a.SessionID, a.OnBehalfOf, a.Tool, a.Resource,
			bytesOrNull(a.Attributes), a.Rule, a.Reason, approvers, created, expires)
		if isDuplicate(err) {
			return conflict(op, "%q exists in tenant %q", a.ID, a.Tenant)
		}
		return err
	})
}

// Approval implements store.Approvals.
func (s *Store) Approval(ctx context.Context, tenant, id string) (store.Approval, error) {
	const op = "approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	if id == "" {
		return store.Approval{}, invalid(op, "empty id in tenant %q", tenant)
	}
	var a store.Approval
	err := s.read(ctx, op, func(ctx context.Context) error {
		var err error
		a, err = scanApproval(s.queryRow(ctx, nil, s.q.approval, tenant, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(op, "%q in tenant %q", id, tenant)
		}
		return err
	})
	return a, err
}

// Approvals implements store.Approvals. Approvals created at the same time
// are ordered by ID, then tenant. A pending approval whose ExpiresAt has
// passed is still listed as pending: the store reads no clock.
func (s *Store) Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	const op = "approvals"
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond)
	}
	if f.Tenant != "" {
		add("tenant = ?", f.Tenant)
	}
	if f.AgentID != "" {
		add("agent_id = ?", f.AgentID)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if !f.PendingAt.IsZero() {
		add("status = 'pending' AND expires_at > ?", compareTime(f.PendingAt))
	}
	query := `SELECT ` + approvalCols + ` FROM ` + s.prefix + `approvals`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += approvalOrder
	if f.Limit > 0 {
		args = append(args, f.Limit)
		query += ` LIMIT ?`
	}
	var out []store.Approval
	err := s.read(ctx, op, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.query(ctx, nil, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanApproval(rows)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DecideApproval implements store.Approvals. d.Status must be
// ApprovalApproved or ApprovalDenied; GrantExpiresAt is recorded only for
// an approval.
func (s *Store) DecideApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	const op = "decide approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	if id == "" {
		return store.Approval{}, invalid(op, "empty id in tenant %q", tenant)
	}
	if d.Status != store.ApprovalApproved && d.Status != store.ApprovalDenied {
		return store.Approval{}, invalid(op, "%q in tenant %q: decision status %q is neither %q nor %q",
			id, tenant, d.Status, store.ApprovalApproved, store.ApprovalDenied)
	}
	decided, err := storedTime("decided at", d.At)
	if err != nil {
		return store.Approval{}, err
	}
	grant, err := storedTime("grant expires at", d.GrantExpiresAt)
	if err != nil {
		return store.Approval{}, err
	}
	if d.Status != store.ApprovalApproved {
		grant = sql.NullInt64{}
	}
	var a store.Approval
	err = s.write(ctx, op, func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := s.exec(ctx, tx, s.q.decideApproval,
				string(d.Status), decided, d.By, d.Note, grant, d.ByKey, encodeList(d.ByCredentials), tenant, id, compareTime(d.At))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 1 {
				// The row is locked by the update: this reads it as decided.
				a, err = scanApproval(s.queryRow(ctx, tx, s.q.approval, tenant, id))
				return err
			}
			// Nothing decided: say why.
			var (
				status  string
				expires sql.NullInt64
			)
			err = s.queryRow(ctx, tx, s.q.approvalState, tenant, id).Scan(&status, &expires)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return notFound(op, "%q in tenant %q", id, tenant)
			case err != nil:
				return err
			case status != string(store.ApprovalPending):
				return conflict(op, "%q in tenant %q is already %s", id, tenant, status)
			}
			return conflict(op, "%q in tenant %q lapsed at %s", id, tenant, loadTime(expires).Format(time.RFC3339Nano))
		})
	})
	if err != nil {
		return store.Approval{}, err
	}
	return a, nil
}

var _ store.Withdrawer = (*Store)(nil)

// WithdrawApproval implements store.Withdrawer.
func (s *Store) WithdrawApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	const op = "withdraw approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	switch {
	case id == "":
		return store.Approval{}, invalid(op, "empty id in tenant %q", tenant)
	case d.Status != store.ApprovalDenied:
		return store.Approval{}, invalid(op, "%q in tenant %q: withdrawal status %q is not %q", id, tenant, d.Status, store.ApprovalDenied)
	}
	decided, err := storedTime("decided at", d.At)
	if err != nil {
		return store.Approval{}, err
	}
	return s.setApprovalFrom(ctx, op, tenant, id, store.ApprovalApproved, sqlWithdrawApproval, decided, d.By, d.Note, d.ByKey, encodeList(d.ByCredentials), tenant, id)
}

// ConsumeApproval implements store.Approvals. Of several matching
// approvals the oldest is consumed; each is consumed once however many
// callers race.
func (s *Store) ConsumeApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (store.Approval, error) {
	const op = "consume approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	consumed, err := storedTime("consumed at", now)
	if err != nil {
		return store.Approval{}, err
	}
	var a store.Approval
	err = s.write(ctx, op, func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			a, err = scanApproval(s.queryRow(ctx, tx, s.q.consumeCandidate, tenant, fingerprint, compareTime(now)))
			if errors.Is(err, sql.ErrNoRows) {
				return notFound(op, "no live approved approval for the fingerprint in tenant %q", tenant)
			}
			if err != nil {
				return err
			}
			if _, err := s.exec(ctx, tx, s.q.consume, consumed, a.Tenant, a.ID); err != nil {
				return err
			}
			a.Status, a.ConsumedAt = store.ApprovalConsumed, loadTime(consumed)
			return nil
		})
	})
	if err != nil {
		return store.Approval{}, err
	}
	return a, nil
}

// PendingApproval implements store.Approvals. When several approvals
// match, the oldest is returned.
func (s *Store) PendingApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (store.Approval, error) {
	const op = "pending approval"
	var a store.Approval
	err := s.read(ctx, op, func(ctx context.Context) error {
		var err error
		a, err = scanApproval(s.queryRow(ctx, nil, s.q.pendingApproval, tenant, fingerprint, compareTime(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(op, "no live pending approval for the fingerprint in tenant %q", tenant)
		}
		return err
	})
	if err != nil {
		return store.Approval{}, err
	}
	return a, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanApproval(row scanner) (store.Approval, error) {
	var (
		a                                          store.Approval
		attrs, approvers                           []byte
		status                                     string
		created, expires, decided, grant, consumed sql.NullInt64
		byKey                                      []byte // NULL in approvals older than the column
		creds                                      []byte // NULL when none, and in approvals older than the column
	)
	err := row.Scan(&a.Tenant, &a.ID, &a.Fingerprint, &a.AgentID, &a.SessionID, &a.OnBehalfOf, &a.Tool, &a.Resource,
		&attrs, &a.Rule, &a.Reason, &approvers, &status, &created, &expires,
		&decided, &a.DecidedBy, &a.Note, &grant, &consumed, &byKey, &creds)
	if err != nil {
		return store.Approval{}, err
	}
	if attrs != nil {
		a.Attributes = json.RawMessage(attrs)
	}
	if a.Approvers, err = decodeList(approvers); err != nil {
		return store.Approval{}, err
	}
	a.Status = store.ApprovalStatus(status)
	a.CreatedAt, a.ExpiresAt, a.DecidedAt = loadTime(created), loadTime(expires), loadTime(decided)
	a.GrantExpiresAt, a.ConsumedAt = loadTime(grant), loadTime(consumed)
	a.DecidedByKey = string(byKey)
	if a.DecidedByCredentials, err = decodeList(creds); err != nil {
		return store.Approval{}, err
	}
	if len(a.DecidedByCredentials) == 0 {
		a.DecidedByCredentials = nil
	}
	return a, nil
}

// bytesOrNull passes b as bytes, NULL when it is nil.
func bytesOrNull(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

var _ store.Voider = (*Store)(nil)

// sqlVoidApproval: the UPDATE takes the row lock; only a consumed row
// changes.
const sqlVoidApproval = `UPDATE {p}approvals SET status = 'denied', note = ?
WHERE tenant = ? AND id = ? AND status = 'consumed'`

// VoidApproval implements store.Voider.
func (s *Store) VoidApproval(ctx context.Context, tenant, id, note string) (store.Approval, error) {
	const op = "void approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	if id == "" {
		return store.Approval{}, invalid(op, "empty id in tenant %q", tenant)
	}
	return s.setApprovalFrom(ctx, op, tenant, id, store.ApprovalConsumed, sqlVoidApproval, note, tenant, id)
}

// setApprovalFrom runs stmt, an UPDATE of approval id that changes it
// only while its status is from, and returns the approval it changed,
// read under the row lock the update took: one in another status is
// ErrConflict, none ErrNotFound. Withdrawing and voiding are both such a
// move.
func (s *Store) setApprovalFrom(ctx context.Context, op, tenant, id string, from store.ApprovalStatus, stmt string, args ...any) (store.Approval, error) {
	var a store.Approval
	err := s.write(ctx, op, func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := s.exec(ctx, tx, table(s.prefix, stmt), args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 1 {
				a, err = scanApproval(s.queryRow(ctx, tx, s.q.approval, tenant, id))
				return err
			}
			var (
				status  string
				expires sql.NullInt64
			)
			err = s.queryRow(ctx, tx, s.q.approvalState, tenant, id).Scan(&status, &expires)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return notFound(op, "%q in tenant %q", id, tenant)
			case err != nil:
				return err
			}
			return conflict(op, "%q in tenant %q is %s, not %s", id, tenant, status, from)
		})
	})
	if err != nil {
		return store.Approval{}, err
	}
	return a, nil
}
