package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/agenttrust/agenttrust/store"
)

const (
	approvalCols = `tenant, id, fingerprint, agent_id, session_id, on_behalf_of, tool, resource,
	attributes, rule, reason, approvers, status, created_at, expires_at,
	decided_at, decided_by, note, grant_expires_at, consumed_at, decided_by_key, decided_by_credentials`

	approvalOrder = ` ORDER BY created_at NULLS FIRST, id, tenant`

	sqlCreateApproval = `INSERT INTO approvals (` + approvalCols + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', $13, $14, NULL, '', '', NULL, NULL, '', NULL)
ON CONFLICT (tenant, id) DO NOTHING`

	sqlApproval = `SELECT ` + approvalCols + ` FROM approvals WHERE tenant = $1 AND id = $2`

	// One UPDATE decides: of concurrent deciders, the first takes the row
	// lock and the others, re-reading the row once it commits, no longer
	// find it pending.
	sqlDecideApproval = `UPDATE approvals
SET status = $3, decided_at = $4, decided_by = $5, note = $6,
	grant_expires_at = CASE WHEN $3 = 'approved' THEN $7 ELSE grant_expires_at END, decided_by_key = $9,
	decided_by_credentials = $10
WHERE tenant = $1 AND id = $2 AND status = 'pending' AND expires_at > $8
RETURNING ` + approvalCols

	sqlApprovalState = `SELECT status, expires_at FROM approvals WHERE tenant = $1 AND id = $2`

	// One UPDATE withdraws: a consumer that locked the row first has made
	// it consumed by the time this re-reads it; one that comes second
	// skips the row this locked, and then finds it denied.
	sqlWithdrawApproval = `UPDATE approvals SET status = 'denied', decided_at = $3, decided_by = $4, note = $5, decided_by_key = $6, decided_by_credentials = $7
WHERE tenant = $1 AND id = $2 AND status = 'approved'
RETURNING ` + approvalCols

	// The oldest live approved approval is locked and consumed in one
	// statement; concurrent consumers skip the row locked by the first
	// and take the next candidate, or find none.
	sqlConsumeApproval = `WITH c AS (
	SELECT tenant, id FROM approvals
	WHERE tenant = $1 AND fingerprint = $2 AND status = 'approved' AND grant_expires_at > $3
	ORDER BY created_at NULLS FIRST, id
	LIMIT 1
	FOR UPDATE SKIP LOCKED
)
UPDATE approvals AS a SET status = 'consumed', consumed_at = $4
FROM c WHERE a.tenant = c.tenant AND a.id = c.id
RETURNING ` + prefixed

	sqlPendingApproval = `SELECT ` + approvalCols + ` FROM approvals
WHERE tenant = $1 AND fingerprint = $2 AND status = 'pending' AND expires_at > $3
ORDER BY created_at NULLS FIRST, id
LIMIT 1`
)

// prefixed is approvalCols qualified with the alias a, for the UPDATE ...
// FROM of sqlConsumeApproval where the bare names would be ambiguous.
const prefixed = `a.tenant, a.id, a.fingerprint, a.agent_id, a.session_id, a.on_behalf_of, a.tool, a.resource,
	a.attributes, a.rule, a.reason, a.approvers, a.status, a.created_at, a.expires_at,
	a.decided_at, a.decided_by, a.note, a.grant_expires_at, a.consumed_at, a.decided_by_key, a.decided_by_credentials`

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
	return s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		tag, err := c.Exec(ctx, sqlCreateApproval,
			a.Tenant, a.ID, a.Fingerprint, a.AgentID, a.SessionID, a.OnBehalfOf, a.Tool, a.Resource,
			[]byte(a.Attributes), a.Rule, a.Reason, a.Approvers, created, expires)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return conflict(op, "%q exists in tenant %q", a.ID, a.Tenant)
		}
		return nil
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
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		a, err = scanApproval(c.QueryRow(ctx, sqlApproval, tenant, id))
		if errors.Is(err, pgx.ErrNoRows) {
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
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.Tenant != "" {
		add("tenant =", f.Tenant)
	}
	if f.AgentID != "" {
		add("agent_id =", f.AgentID)
	}
	if f.Status != "" {
		add("status =", string(f.Status))
	}
	if !f.PendingAt.IsZero() {
		add("status = 'pending' AND expires_at >", compareTime(f.PendingAt))
	}
	query := `SELECT ` + approvalCols + ` FROM approvals`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += approvalOrder
	if f.Limit > 0 {
		args = append(args, f.Limit)
		query += ` LIMIT $` + strconv.Itoa(len(args))
	}
	var out []store.Approval
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		out = out[:0]
		rows, err := c.Query(ctx, query, args...)
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
	var a store.Approval
	err = s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		a, err = scanApproval(c.QueryRow(ctx, sqlDecideApproval,
			tenant, id, string(d.Status), decided, d.By, d.Note, grant, compareTime(d.At), d.ByKey, d.ByCredentials))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// Nothing decided: say why.
		var (
			status  string
			expires pgtype.Int8
		)
		err = c.QueryRow(ctx, sqlApprovalState, tenant, id).Scan(&status, &expires)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return notFound(op, "%q in tenant %q", id, tenant)
		case err != nil:
			return err
		case status != string(store.ApprovalPending):
			return conflict(op, "%q in tenant %q is already %s", id, tenant, status)
		}
		return conflict(op, "%q in tenant %q lapsed at %s", id, tenant, loadTime(expires).Format(time.RFC3339Nano))
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
	return s.setApprovalFrom(ctx, op, tenant, id, store.ApprovalApproved, sqlWithdrawApproval, tenant, id, decided, d.By, d.Note, d.ByKey, d.ByCredentials)
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
	err = s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		a, err = scanApproval(c.QueryRow(ctx, sqlConsumeApproval, tenant, fingerprint, compareTime(now), consumed))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "no live approved approval for the fingerprint in tenant %q", tenant)
		}
		return err
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
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		a, err = scanApproval(c.QueryRow(ctx, sqlPendingApproval, tenant, fingerprint, compareTime(now)))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "no live pending approval for the fingerprint in tenant %q", tenant)
		}
		return err
	})
	if err != nil {
		return store.Approval{}, err
	}
	return a, nil
}

func scanApproval(row pgx.Row) (store.Approval, error) {
	var (
		a                                          store.Approval
		attrs                                      []byte
		status                                     string
		created, expires, decided, grant, consumed pgtype.Int8
	)
	err := row.Scan(&a.Tenant, &a.ID, &a.Fingerprint, &a.AgentID, &a.SessionID, &a.OnBehalfOf, &a.Tool, &a.Resource,
		&attrs, &a.Rule, &a.Reason, &a.Approvers, &status, &created, &expires,
		&decided, &a.DecidedBy, &a.Note, &grant, &consumed, &a.DecidedByKey, &a.DecidedByCredentials)
	if err != nil {
		return store.Approval{}, err
	}
	if len(a.DecidedByCredentials) == 0 {
		a.DecidedByCredentials = nil
	}
	if attrs != nil {
		a.Attributes = json.RawMessage(attrs)
	}
	a.Status = store.ApprovalStatus(status)
	a.CreatedAt, a.ExpiresAt, a.DecidedAt = loadTime(created), loadTime(expires), loadTime(decided)
	a.GrantExpiresAt, a.ConsumedAt = loadTime(grant), loadTime(consumed)
	return a, nil
}

var _ store.Voider = (*Store)(nil)

// sqlVoidApproval: the UPDATE takes the row lock; only a consumed row
// changes.
const sqlVoidApproval = `UPDATE approvals SET status = 'denied', note = $3
WHERE tenant = $1 AND id = $2 AND status = 'consumed'
RETURNING ` + approvalCols

// VoidApproval implements store.Voider.
func (s *Store) VoidApproval(ctx context.Context, tenant, id, note string) (store.Approval, error) {
	const op = "void approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	if id == "" {
		return store.Approval{}, invalid(op, "empty id in tenant %q", tenant)
	}
	return s.setApprovalFrom(ctx, op, tenant, id, store.ApprovalConsumed, sqlVoidApproval, tenant, id, note)
}

// setApprovalFrom runs stmt, an UPDATE of approval id that changes it
// only while its status is from, RETURNING its columns, and returns the
// approval it changed: one in another status is ErrConflict, none
// ErrNotFound. Withdrawing and voiding are both such a move.
func (s *Store) setApprovalFrom(ctx context.Context, op, tenant, id string, from store.ApprovalStatus, stmt string, args ...any) (store.Approval, error) {
	var a store.Approval
	err := s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		a, err = scanApproval(c.QueryRow(ctx, stmt, args...))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var (
			status  string
			expires pgtype.Int8
		)
		err = c.QueryRow(ctx, sqlApprovalState, tenant, id).Scan(&status, &expires)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return notFound(op, "%q in tenant %q", id, tenant)
		case err != nil:
			return err
		}
		return conflict(op, "%q in tenant %q is %s, not %s", id, tenant, status, from)
	})
	if err != nil {
		return store.Approval{}, err
	}
	return a, nil
}
