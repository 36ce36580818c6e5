package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

const approvalCols = `tenant, id, fingerprint, agent_id, session_id, on_behalf_of, tool, resource, attributes,
	rule, reason, approvers, status, created_at, expires_at, decided_at, decided_by, note, grant_expires_at, consumed_at, decided_by_key,
	decided_by_credentials`

// scanApproval reads one row of approvalCols.
func scanApproval(sc interface{ Scan(...any) error }) (store.Approval, error) {
	var a store.Approval
	var attrs []byte
	var approvers, creds sql.NullString
	var status string
	var created, expires, decided, grant, consumed int64
	if err := sc.Scan(&a.Tenant, &a.ID, &a.Fingerprint, &a.AgentID, &a.SessionID, &a.OnBehalfOf, &a.Tool, &a.Resource, &attrs,
		&a.Rule, &a.Reason, &approvers, &status, &created, &expires, &decided, &a.DecidedBy, &a.Note, &grant, &consumed, &a.DecidedByKey, &creds); err != nil {
		return store.Approval{}, err
	}
	list, err := decList(approvers)
	if err != nil {
		return store.Approval{}, fmt.Errorf("approvers of %q: %w", a.ID, err)
	}
	if a.DecidedByCredentials, err = decList(creds); err != nil {
		return store.Approval{}, fmt.Errorf("decided_by_credentials of %q: %w", a.ID, err)
	}
	a.Attributes = nullBytes(attrs)
	a.Approvers = list
	a.Status = store.ApprovalStatus(status)
	a.CreatedAt, a.ExpiresAt, a.DecidedAt = decTime(created), decTime(expires), decTime(decided)
	a.GrantExpiresAt, a.ConsumedAt = decTime(grant), decTime(consumed)
	return a, nil
}

// CreateApproval implements store.Approvals. Ids are unique per tenant. The
// approval is stored with Status ApprovalPending whatever a.Status says.
func (s *Store) CreateApproval(ctx context.Context, a store.Approval) error {
	const op = "create approval"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if a.ID == "" {
		return invalid(op, "empty id in tenant %q", a.Tenant)
	}
	e := encoder{op: op}
	args := []any{
		a.Tenant, a.ID, a.Fingerprint, a.AgentID, a.SessionID, a.OnBehalfOf, a.Tool, a.Resource, blob(a.Attributes),
		a.Rule, a.Reason, e.list("Approvers", a.Approvers), string(store.ApprovalPending),
		e.time("CreatedAt", a.CreatedAt), e.time("ExpiresAt", a.ExpiresAt), e.time("DecidedAt", a.DecidedAt),
		a.DecidedBy, a.Note, e.time("GrantExpiresAt", a.GrantExpiresAt), e.time("ConsumedAt", a.ConsumedAt),
	}
	if e.err != nil {
		return e.err
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO approvals (`+approvalCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', NULL)`, args...)
	if err != nil {
		err = s.fail(ctx, op, err)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%s: %s %q in tenant %q: id exists: %w", prefix, op, a.ID, a.Tenant, store.ErrConflict)
		}
		return err
	}
	return nil
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
	a, err := scanApproval(s.r.QueryRowContext(ctx, `SELECT `+approvalCols+` FROM approvals WHERE tenant = ? AND id = ?`, tenant, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Approval{}, fmt.Errorf("%s: %s %q in tenant %q: %w", prefix, op, id, tenant, store.ErrNotFound)
	case err != nil:
		return store.Approval{}, s.fail(ctx, op, err)
	}
	return a, nil
}

// Approvals implements store.Approvals. Approvals created at the same time
// are ordered by ID, then tenant. A pending approval whose ExpiresAt has
// passed is still listed as pending: the store reads no clock.
func (s *Store) Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	const op = "approvals"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + approvalCols + ` FROM approvals WHERE 1`)
	if f.Tenant != "" {
		q.WriteString(` AND tenant = ?`)
		args = append(args, f.Tenant)
	}
	if f.AgentID != "" {
		q.WriteString(` AND agent_id = ?`)
		args = append(args, f.AgentID)
	}
	if f.Status != "" {
		q.WriteString(` AND status = ?`)
		args = append(args, string(f.Status))
	}
	if !f.PendingAt.IsZero() {
		q.WriteString(` AND status = 'pending' AND expires_at > ?`)
		args = append(args, clampTime(f.PendingAt))
	}
	q.WriteString(` ORDER BY created_at, id, tenant`)
	if f.Limit > 0 {
		q.WriteString(` LIMIT ?`)
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []store.Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// DecideApproval implements store.Approvals. d.Status must be
// ApprovalApproved or ApprovalDenied, else the error wraps
// store.ErrInvalid; GrantExpiresAt is recorded only for an approval. The
// check and the change run in one write transaction, so of racing
// deciders one wins and the others see it.
func (s *Store) DecideApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	const op = "decide approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	switch {
	case id == "":
		return store.Approval{}, invalid(op, "empty id in tenant %q", tenant)
	case d.Status != store.ApprovalApproved && d.Status != store.ApprovalDenied:
		return store.Approval{}, invalid(op, "%q in tenant %q: decision status %q is neither %q nor %q",
			id, tenant, d.Status, store.ApprovalApproved, store.ApprovalDenied)
	}
	e := encoder{op: op}
	decidedAt, grant := e.time("At", d.At), e.time("GrantExpiresAt", d.GrantExpiresAt)
	creds := e.list("ByCredentials", d.ByCredentials)
	if e.err != nil {
		return store.Approval{}, e.err
	}
	var out store.Approval
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		var status string
		var expires int64
		err := tx.QueryRowContext(ctx, `SELECT status, expires_at FROM approvals WHERE tenant = ? AND id = ?`, tenant, id).Scan(&status, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%s: %s %q in tenant %q: %w", prefix, op, id, tenant, store.ErrNotFound)
		case err != nil:
			return s.fail(ctx, op, err)
		case status != string(store.ApprovalPending):
			return fmt.Errorf("%s: %s %q in tenant %q: already %s: %w", prefix, op, id, tenant, status, store.ErrConflict)
		case expires <= decidedAt:
			return fmt.Errorf("%s: %s %q in tenant %q: lapsed at %s: %w",
				prefix, op, id, tenant, decTime(expires).Format(time.RFC3339Nano), store.ErrConflict)
		}
		out, err = scanApproval(tx.QueryRowContext(ctx, `UPDATE approvals
			SET status = ?1, decided_at = ?2, decided_by = ?3, note = ?4,
				grant_expires_at = CASE WHEN ?1 = 'approved' THEN ?5 ELSE grant_expires_at END,
				decided_by_key = ?8, decided_by_credentials = ?9
			WHERE tenant = ?6 AND id = ?7
			RETURNING `+approvalCols,
			string(d.Status), decidedAt, d.By, d.Note, grant, tenant, id, d.ByKey, creds))
		if err != nil {
			return s.fail(ctx, op, err)
		}
		return nil
	})
	if err != nil {
		return store.Approval{}, err
	}
	return out, nil
}

var _ store.Withdrawer = (*Store)(nil)

// WithdrawApproval implements store.Withdrawer: one UPDATE of an approved
// row, in the single writer's transaction, so of a withdrawal and a
// consumer one finds it approved and the other does not.
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
	e := encoder{op: op}
	decidedAt := e.time("At", d.At)
	creds := e.list("ByCredentials", d.ByCredentials)
	if e.err != nil {
		return store.Approval{}, e.err
	}
	return s.setApprovalFrom(ctx, op, tenant, id, store.ApprovalApproved, `UPDATE approvals
		SET status = 'denied', decided_at = ?, decided_by = ?, note = ?, decided_by_key = ?, decided_by_credentials = ?
		WHERE tenant = ? AND id = ? AND status = 'approved'`, decidedAt, d.By, d.Note, d.ByKey, creds, tenant, id)
}

// ConsumeApproval implements store.Approvals. It finds and consumes the
// oldest live approved approval in one statement, which SQLite runs alone
// on the file, so each approval is consumed once.
func (s *Store) ConsumeApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (store.Approval, error) {
	const op = "consume approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	e := encoder{op: op}
	at := e.time("now", now)
	if e.err != nil {
		return store.Approval{}, e.err
	}
	a, err := scanApproval(s.w.QueryRowContext(ctx, `UPDATE approvals SET status = 'consumed', consumed_at = ?1
		WHERE rowid = (
			SELECT rowid FROM approvals
			WHERE tenant = ?2 AND fingerprint = ?3 AND status = 'approved' AND grant_expires_at > ?1
			ORDER BY created_at, id LIMIT 1)
		RETURNING `+approvalCols, at, tenant, fingerprint))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Approval{}, fmt.Errorf("%s: %s in tenant %q: no live approved approval for the fingerprint: %w",
			prefix, op, tenant, store.ErrNotFound)
	case err != nil:
		return store.Approval{}, s.fail(ctx, op, err)
	}
	return a, nil
}

// PendingApproval implements store.Approvals.
func (s *Store) PendingApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (store.Approval, error) {
	const op = "pending approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	a, err := scanApproval(s.r.QueryRowContext(ctx, `SELECT `+approvalCols+` FROM approvals
		WHERE tenant = ? AND fingerprint = ? AND status = 'pending' AND expires_at > ?
		ORDER BY created_at, id LIMIT 1`, tenant, fingerprint, clampTime(now)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Approval{}, fmt.Errorf("%s: %s in tenant %q: no live pending approval for the fingerprint: %w",
			prefix, op, tenant, store.ErrNotFound)
	case err != nil:
		return store.Approval{}, s.fail(ctx, op, err)
	}
	return a, nil
}

var _ store.Voider = (*Store)(nil)

// VoidApproval implements store.Voider: one UPDATE of a consumed row, in
// the single writer's transaction.
func (s *Store) VoidApproval(ctx context.Context, tenant, id, note string) (store.Approval, error) {
	const op = "void approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	if id == "" {
		return store.Approval{}, invalid(op, "empty id in tenant %q", tenant)
	}
	return s.setApprovalFrom(ctx, op, tenant, id, store.ApprovalConsumed, `UPDATE approvals SET status = 'denied', note = ?
		WHERE tenant = ? AND id = ? AND status = 'consumed'`, note, tenant, id)
}

// setApprovalFrom runs update, an UPDATE of approval id that changes it
// only while its status is from, and returns the approval it changed:
// one in another status is ErrConflict, none ErrNotFound. Withdrawing
// and voiding are both such a move.
func (s *Store) setApprovalFrom(ctx context.Context, op, tenant, id string, from store.ApprovalStatus, update string, args ...any) (store.Approval, error) {
	var out store.Approval
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		var err error
		out, err = scanApproval(tx.QueryRowContext(ctx, update+"\n\t\tRETURNING "+approvalCols, args...))
		if !errors.Is(err, sql.ErrNoRows) {
			if err != nil {
				return s.fail(ctx, op, err)
			}
			return nil
		}
		var status string
		err = tx.QueryRowContext(ctx, `SELECT status FROM approvals WHERE tenant = ? AND id = ?`, tenant, id).Scan(&status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%s: %s %q in tenant %q: %w", prefix, op, id, tenant, store.ErrNotFound)
		case err != nil:
			return s.fail(ctx, op, err)
		}
		return fmt.Errorf("%s: %s %q in tenant %q: %s, not %s: %w", prefix, op, id, tenant, status, from, store.ErrConflict)
	})
	if err != nil {
		return store.Approval{}, err
	}
	return out, nil
}
