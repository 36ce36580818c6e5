package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.Grants = (*Store)(nil)

const grantCols = `tenant, id, approval_id, agent_id, on_behalf_of, tool, rule, resource, resources,
	uses_left, expires_at, created_by, created_at, created_by_key, uses, created_by_credentials`

func scanGrant(sc interface{ Scan(...any) error }) (store.Grant, error) {
	var g store.Grant
	var resources, creds sql.NullString
	var expires, created int64
	if err := sc.Scan(&g.Tenant, &g.ID, &g.ApprovalID, &g.AgentID, &g.OnBehalfOf, &g.Tool, &g.Rule, &g.Resource, &resources,
		&g.UsesLeft, &expires, &g.CreatedBy, &created, &g.CreatedByKey, &g.Uses, &creds); err != nil {
		return store.Grant{}, err
	}
	list, err := decList(resources)
	if err != nil {
		return store.Grant{}, fmt.Errorf("resources of grant %q: %w", g.ID, err)
	}
	g.Resources = list
	if g.CreatedByCredentials, err = decList(creds); err != nil {
		return store.Grant{}, fmt.Errorf("created_by_credentials of grant %q: %w", g.ID, err)
	}
	g.ExpiresAt, g.CreatedAt = decTime(expires), decTime(created)
	return g, nil
}

// CreateGrant implements store.Grants.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant) error {
	const op = "create grant"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if g.ID == "" {
		return invalid(op, "empty id in tenant %q", g.Tenant)
	}
	e := encoder{op: op}
	args := []any{
		g.Tenant, g.ID, g.ApprovalID, g.AgentID, g.OnBehalfOf, g.Tool, g.Rule, g.Resource, e.list("Resources", g.Resources),
		g.UsesLeft, e.time("ExpiresAt", g.ExpiresAt), g.CreatedBy, e.time("CreatedAt", g.CreatedAt), g.CreatedByKey, g.Uses,
		e.list("CreatedByCredentials", g.CreatedByCredentials),
	}
	if e.err != nil {
		return e.err
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO grants (`+grantCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		err = s.fail(ctx, op, err)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%s: %s %q in tenant %q: id exists: %w", prefix, op, g.ID, g.Tenant, store.ErrConflict)
		}
		return err
	}
	return nil
}

// Grants implements store.Grants.
func (s *Store) Grants(ctx context.Context, tenant, agentID, tool string, now time.Time) ([]store.Grant, error) {
	const op = "grants"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+grantCols+` FROM grants
		WHERE tenant = ?1 AND (?2 = '' OR agent_id = ?2) AND (?3 = '' OR tool = ?3) AND uses_left > 0 AND expires_at > ?4
		ORDER BY created_at, id`, tenant, agentID, tool, clampTime(now))
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []store.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// UseGrant implements store.Grants: one statement, so of racing callers
// only those that find a use left take one.
func (s *Store) UseGrant(ctx context.Context, tenant, id string, now time.Time) (store.Grant, error) {
	const op = "use grant"
	if err := s.ready(ctx, op); err != nil {
		return store.Grant{}, err
	}
	g, err := scanGrant(s.w.QueryRowContext(ctx, `UPDATE grants SET uses_left = uses_left - 1
		WHERE tenant = ? AND id = ? AND uses_left > 0 AND expires_at > ?
		RETURNING `+grantCols, tenant, id, clampTime(now)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Grant{}, fmt.Errorf("%s: %s %q in tenant %q: no use left: %w", prefix, op, id, tenant, store.ErrNotFound)
	case err != nil:
		return store.Grant{}, s.fail(ctx, op, err)
	}
	return g, nil
}

// EndGrant implements store.Grants.
func (s *Store) EndGrant(ctx context.Context, tenant, id string) error {
	const op = "end grant"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `UPDATE grants SET uses_left = 0 WHERE tenant = ? AND id = ?`, tenant, id)
	if err != nil {
		return s.fail(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %s %q in tenant %q: %w", prefix, op, id, tenant, store.ErrNotFound)
	}
	return nil
}

var _ store.GrantReader = (*Store)(nil)

// Grant implements store.GrantReader.
func (s *Store) Grant(ctx context.Context, tenant, id string) (store.Grant, error) {
	const op = "grant"
	if err := s.ready(ctx, op); err != nil {
		return store.Grant{}, err
	}
	g, err := scanGrant(s.r.QueryRowContext(ctx, `SELECT `+grantCols+` FROM grants WHERE tenant = ? AND id = ?`, tenant, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Grant{}, fmt.Errorf("%s: %s %q in tenant %q: %w", prefix, op, id, tenant, store.ErrNotFound)
	case err != nil:
		return store.Grant{}, s.fail(ctx, op, err)
	}
	return g, nil
}
