package mysql

import (
	"context"
	"database/sql"
	"errors"

	"github.com/agenttrust/agenttrust/store"
)

const (
	sqlPolicy        = `SELECT version, format, body, updated_at FROM {p}policies WHERE tenant = ?`
	sqlPolicyCreate  = `INSERT INTO {p}policies (tenant, version, format, body, updated_at) VALUES (?, 1, ?, ?, ?)`
	sqlPolicyReplace = `UPDATE {p}policies SET version = version + 1, format = ?, body = ?, updated_at = ?
WHERE tenant = ? AND version = ?`
)

// Policy implements store.Policies.
func (s *Store) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	const op = "policy"
	var doc store.PolicyDoc
	err := s.read(ctx, op, func(ctx context.Context) error {
		var updated sql.NullInt64
		doc = store.PolicyDoc{Tenant: tenant}
		err := s.queryRow(ctx, nil, s.q.policy, tenant).Scan(&doc.Version, &doc.Format, &doc.Body, &updated)
		if errors.Is(err, sql.ErrNoRows) {
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
	updated, err := storedTime("updated at", doc.UpdatedAt)
	if err != nil {
		return store.PolicyDoc{}, err
	}
	body := doc.Body
	err = s.write(ctx, op, func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			if expectVersion == 0 {
				_, err := s.exec(ctx, tx, s.q.policyCreate, doc.Tenant, doc.Format, body, updated)
				if isDuplicate(err) {
					return conflict(op, "tenant %q already has a policy", doc.Tenant)
				}
				if err != nil {
					return err
				}
			} else {
				res, err := s.exec(ctx, tx, s.q.policyReplace, doc.Format, body, updated, doc.Tenant, expectVersion)
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil {
					return err
				} else if n == 0 {
					return conflict(op, "the policy of tenant %q is not at version %d", doc.Tenant, expectVersion)
				}
			}
			return s.logChanges(ctx, tx, changePolicy, [][2]string{{doc.Tenant, ""}})
		})
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
