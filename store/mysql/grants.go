package mysql

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.Grants = (*Store)(nil)

const (
	grantCols = `tenant, id, approval_id, agent_id, on_behalf_of, tool, rule, resource, resources,
	uses_left, expires_at, created_by, created_at, created_by_key, uses, created_by_credentials`

	sqlCreateGrant = `INSERT INTO {p}grants (` + grantCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

	// Whether the agent or tool filter is "any" is decided in Go and
	// passed as a boolean: ? = '' would compare in the connection's
	// collation, where under PAD SPACE (utf8mb4_general_ci) a filter of
	// spaces equals '' and would match every agent or tool.
	sqlGrants = `SELECT ` + grantCols + ` FROM {p}grants
WHERE tenant = ? AND (? OR agent_id = ?) AND (? OR tool = ?) AND uses_left > 0 AND expires_at > ?
ORDER BY created_at, id`

	// The UPDATE takes the row lock: of racing callers, those after the
	// last use find no row to change.
	sqlUseGrant    = `UPDATE {p}grants SET uses_left = uses_left - 1 WHERE tenant = ? AND id = ? AND uses_left > 0 AND expires_at > ?`
	sqlGrantByID   = `SELECT ` + grantCols + ` FROM {p}grants WHERE tenant = ? AND id = ?`
	sqlEndGrant    = `UPDATE {p}grants SET uses_left = 0 WHERE tenant = ? AND id = ?`
	sqlGrantExists = `SELECT 1 FROM {p}grants WHERE tenant = ? AND id = ?`
)

func scanGrant(row scanner) (store.Grant, error) {
	var g store.Grant
	var resources, key, creds []byte
	var uses, expires, created int64
	var made sql.NullInt64 // NULL in grants older than the column
	err := row.Scan(&g.Tenant, &g.ID, &g.ApprovalID, &g.AgentID, &g.OnBehalfOf, &g.Tool, &g.Rule, &g.Resource, &resources,
		&uses, &expires, &g.CreatedBy, &created, &key, &made, &creds)
	if err != nil {
		return store.Grant{}, err
	}
	if g.Resources, err = decodeList(resources); err != nil {
		return store.Grant{}, err
	}
	if g.CreatedByCredentials, err = decodeList(creds); err != nil {
		return store.Grant{}, err
	}
	if len(g.CreatedByCredentials) == 0 {
		g.CreatedByCredentials = nil
	}
	g.UsesLeft, g.CreatedByKey, g.Uses = int(uses), string(key), int(made.Int64)
	g.ExpiresAt = loadTime(sql.NullInt64{Int64: expires, Valid: true})
	g.CreatedAt = loadTime(sql.NullInt64{Int64: created, Valid: true})
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
	return s.write(ctx, op, func(ctx context.Context) error {
		_, err := s.exec(ctx, nil, table(s.prefix, sqlCreateGrant), g.Tenant, g.ID, g.ApprovalID, g.AgentID, g.OnBehalfOf,
			g.Tool, g.Rule, g.Resource, encodeList(g.Resources), int64(g.UsesLeft), expires.Int64, g.CreatedBy, created.Int64, g.CreatedByKey, int64(g.Uses), encodeList(g.CreatedByCredentials))
		if isDuplicate(err) {
			return conflict(op, "%q exists in tenant %q", g.ID, g.Tenant)
		}
		return err
	})
}

// Grants implements store.Grants.
func (s *Store) Grants(ctx context.Context, tenant, agentID, tool string, now time.Time) ([]store.Grant, error) {
	const op = "grants"
	var out []store.Grant
	err := s.read(ctx, op, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.query(ctx, nil, table(s.prefix, sqlGrants), tenant, agentID == "", agentID, tool == "", tool, compareTime(now))
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
	err := s.write(ctx, op, func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := s.exec(ctx, tx, table(s.prefix, sqlUseGrant), tenant, id, compareTime(now))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return notFound(op, "no use left of %q in tenant %q", id, tenant)
			}
			g, err = scanGrant(s.queryRow(ctx, tx, table(s.prefix, sqlGrantByID), tenant, id))
			return err
		})
	})
	if err != nil {
		return store.Grant{}, err
	}
	return g, nil
}

// EndGrant implements store.Grants.
func (s *Store) EndGrant(ctx context.Context, tenant, id string) error {
	const op = "end grant"
	return s.write(ctx, op, func(ctx context.Context) error {
		if _, err := s.exec(ctx, nil, table(s.prefix, sqlEndGrant), tenant, id); err != nil {
			return err
		}
		// MySQL counts changed rows, not matched ones: an ended grant
		// changes none, and is still found.
		var one int
		err := s.queryRow(ctx, nil, table(s.prefix, sqlGrantExists), tenant, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(op, "%q in tenant %q", id, tenant)
		}
		return err
	})
}

var _ store.GrantReader = (*Store)(nil)

// Grant implements store.GrantReader.
func (s *Store) Grant(ctx context.Context, tenant, id string) (store.Grant, error) {
	const op = "grant"
	var g store.Grant
	err := s.read(ctx, op, func(ctx context.Context) error {
		var err error
		g, err = scanGrant(s.queryRow(ctx, nil, table(s.prefix, sqlGrantByID), tenant, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(op, "%q in tenant %q", id, tenant)
		}
		return err
	})
	if err != nil {
		return store.Grant{}, err
	}
	return g, nil
}
