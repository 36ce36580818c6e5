package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/agenttrust/agenttrust/store"
)

const (
	sqlPolicy = `SELECT version, format, body, updated_at FROM policies WHERE tenant = $1`

	// A replacement notifies the schema's channel in the statement that
	// makes it, so the notification is sent if and only if it commits.
	sqlPolicyCreate = `WITH i AS (
	INSERT INTO policies (tenant, version, format, body, updated_at) VALUES ($1, 1, $2, $3, $4)
	ON CONFLICT (tenant) DO NOTHING
	RETURNING 1
) SELECT pg_notify($5, $6) FROM i`

	sqlPolicyReplace = `WITH u AS (
	UPDATE policies SET version = version + 1, format = $2, body = $3, updated_at = $4
	WHERE tenant = $1 AND version = $7
	RETURNING 1
) SELECT pg_notify($5, $6) FROM u`
)

// Policy implements store.Policies.
func (s *Store) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	const op = "policy"
	var doc store.PolicyDoc
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var updated pgtype.Int8
		doc = store.PolicyDoc{Tenant: tenant}
		err := c.QueryRow(ctx, sqlPolicy, tenant).Scan(&doc.Version, &doc.Format, &doc.Body, &updated)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "tenant %q has no policy", tenant)
		}
		doc.UpdatedAt = loadTime(updated)
		return err
	})
	if err != nil {
		return store.PolicyDoc{}, err
	}
	return doc, nil
}

// PutPolicy implements store.Policies. doc.Version is ignored.
func (s *Store) PutPolicy(ctx context.Context, doc store.PolicyDoc, expectVersion int64) (store.PolicyDoc, error) {
	const op = "put policy"
	if err := s.ready(ctx, op); err != nil {
		return store.PolicyDoc{}, err
	}
	payload, err := policyPayload(op, doc.Tenant)
	if err != nil {
		return store.PolicyDoc{}, err
	}
	updated, err := storedTime("updated at", doc.UpdatedAt)
	if err != nil {
		return store.PolicyDoc{}, err
	}
	args := []any{doc.Tenant, doc.Format, doc.Body, updated, s.channel, payload}
	query := sqlPolicyCreate
	if expectVersion != 0 {
		query = sqlPolicyReplace
		args = append(args, expectVersion)
	}
	err = s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		tag, err := c.Exec(ctx, query, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			if expectVersion == 0 {
				return conflict(op, "tenant %q already has a policy", doc.Tenant)
			}
			return conflict(op, "the policy of tenant %q is not at version %d", doc.Tenant, expectVersion)
		}
		return nil
	})
	if err != nil {
		return store.PolicyDoc{}, err
	}
	doc.Body = clone(doc.Body)
	doc.Version = expectVersion + 1
	return doc, nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
