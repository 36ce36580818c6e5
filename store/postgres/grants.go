package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.Grants = (*Store)(nil)

const (
	grantCols = `tenant, id, approval_id, agent_id, on_behalf_of, tool, rule, resource, resources,
	uses_left, expires_at, created_by, created_at, created_by_key, uses, created_by_credentials`

	sqlCreateGrant = `INSERT INTO grants (` + grantCols + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (tenant, id) DO NOTHING`

	sqlGrants = `SELECT ` + grantCols + ` FROM grants
WHERE tenant = $1 AND ($2 = '' OR agent_id = $2) AND ($3 = '' OR tool = $3) AND uses_left > 0 AND expires_at > $4
ORDER BY created_at, id`

	// One UPDATE takes a use: of racing callers, those that find the row
	// with a use left after the ones before them take one.
	sqlUseGrant = `UPDATE grants SET uses_left = uses_left - 1
WHERE tenant = $1 AND id = $2 AND uses_left > 0 AND expires_at > $3
RETURNING ` + grantCols

	sqlEndGrant = `UPDATE grants SET uses_left = 0 WHERE tenant = $1 AND id = $2`
)

func scanGrant(row pgx.Row) (store.Grant, error) {
	var g store.Grant
	var expires, created pgtype.Int8
	var uses, made int64
	err := row.Scan(&g.Tenant, &g.ID, &g.ApprovalID, &g.AgentID, &g.OnBehalfOf, &g.Tool, &g.Rule, &g.Resource, &g.Resources,
		&uses, &expires, &g.CreatedBy, &created, &g.CreatedByKey, &made, &g.CreatedByCredentials)
	if err != nil {
		return store.Grant{}, err
	}
	if len(g.CreatedByCredentials) == 0 {
		g.CreatedByCredentials = nil
	}
	if len(g.Resources) == 0 {
		g.Resources = nil
	}
	g.UsesLeft, g.Uses = int(uses), int(made)
	g.ExpiresAt, g.CreatedAt = loadTime(expires), loadTime(created)
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
	// The grants table holds no NULL time: a zero time, which no
	// other time stands for here, is refused rather than stored as
	// another (a zero expiry as the Unix epoch, which a clock before
	// 1970 reads as not yet passed).
	if g.ExpiresAt.IsZero() || g.CreatedAt.IsZero() {
		return invalid(op, "%q in tenant %q has a zero expiry or creation time", g.ID, g.Tenant)
	}
	expires, err := storedTime("expires at", g.ExpiresAt)
	if err != nil {
		return err
	}
	created, err := storedTime("created at", g.CreatedAt)
	if err != nil {
		return err
	}
	return s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		tag, err := c.Exec(ctx, sqlCreateGrant, g.Tenant, g.ID, g.ApprovalID, g.AgentID, g.OnBehalfOf, g.Tool, g.Rule,
			g.Resource, g.Resources, int64(g.UsesLeft), expires, g.CreatedBy, created, g.CreatedByKey, int64(g.Uses), g.CreatedByCredentials)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return conflict(op, "%q exists in tenant %q", g.ID, g.Tenant)
		}
		return nil
	})
}

// Grants implements store.Grants.
func (s *Store) Grants(ctx context.Context, tenant, agentID, tool string, now time.Time) ([]store.Grant, error) {
	const op = "grants"
	var out []store.Grant
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		out = out[:0]
		rows, err := c.Query(ctx, sqlGrants, tenant, agentID, tool, compareTime(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			g, err := scanGrant(rows)
			if err != nil {
				return err
			}
			out = append(out, g)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UseGrant implements store.Grants.
func (s *Store) UseGrant(ctx context.Context, tenant, id string, now time.Time) (store.Grant, error) {
	const op = "use grant"
	var g store.Grant
	err := s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		g, err = scanGrant(c.QueryRow(ctx, sqlUseGrant, tenant, id, compareTime(now)))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "no use left of %q in tenant %q", id, tenant)
		}
		return err
	})
	if err != nil {
		return store.Grant{}, err
	}
	return g, nil
}

// EndGrant implements store.Grants.
func (s *Store) EndGrant(ctx context.Context, tenant, id string) error {
	const op = "end grant"
	return s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		tag, err := c.Exec(ctx, sqlEndGrant, tenant, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound(op, "%q in tenant %q", id, tenant)
		}
		return nil
	})
}

var _ store.GrantReader = (*Store)(nil)

// Grant implements store.GrantReader.
func (s *Store) Grant(ctx context.Context, tenant, id string) (store.Grant, error) {
	const op = "grant"
	var g store.Grant
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		g, err = scanGrant(c.QueryRow(ctx, `SELECT `+grantCols+` FROM grants WHERE tenant = $1 AND id = $2`, tenant, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "%q in tenant %q", id, tenant)
		}
		return err
	})
	if err != nil {
		return store.Grant{}, err
	}
	return g, nil
}
