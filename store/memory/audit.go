package memory

import (
	"context"
	"fmt"
	"math"

	"github.com/agenttrust/agenttrust/store"
)

// AppendAudit implements store.Audit. The first record of an empty trail
// has Seq 1.
func (s *Store) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	const op = "append audit"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.Last(tableAudit, indexID)
	if err != nil {
		return internal(op, err)
	}
	next := uint64(1)
	if raw != nil {
		next = raw.(*store.AuditRecord).Seq + 1
	}
	for i := range recs {
		if recs[i].Seq != next {
			return fmt.Errorf("agenttrust/store/memory: %s: record %d of %d has seq %d, want %d: %w",
				op, i, len(recs), recs[i].Seq, next, store.ErrConflict)
		}
		row := cloneAudit(recs[i])
		if err := txn.Insert(tableAudit, &row); err != nil {
			return internal(op, err)
		}
		next++
	}
	txn.Commit()
	return nil
}

// AuditHead implements store.Audit.
func (s *Store) AuditHead(ctx context.Context) (store.AuditRecord, error) {
	const op = "audit head"
	if err := s.ready(ctx, op); err != nil {
		return store.AuditRecord{}, err
	}
	raw, err := s.db.Txn(false).Last(tableAudit, indexID)
	if err != nil {
		return store.AuditRecord{}, internal(op, err)
	}
	if raw == nil {
		return store.AuditRecord{}, fmt.Errorf("agenttrust/store/memory: %s: trail is empty: %w", op, store.ErrNotFound)
	}
	return cloneAudit(*raw.(*store.AuditRecord)), nil
}

// QueryAudit implements store.Audit. It seeks to q.AfterSeq and scans
// forward, filtering the other fields.
func (s *Store) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	const op = "query audit"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	if q.AfterSeq == math.MaxUint64 {
		return nil, nil
	}
	it, err := s.db.Txn(false).LowerBound(tableAudit, indexID, q.AfterSeq+1)
	if err != nil {
		return nil, internal(op, err)
	}
	var out []store.AuditRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		r := raw.(*store.AuditRecord)
		if !auditMatches(r, &q) {
			continue
		}
		out = append(out, cloneAudit(*r))
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func auditMatches(r *store.AuditRecord, q *store.AuditQuery) bool {
	return (q.Tenant == "" || r.Tenant == q.Tenant) &&
		(q.AgentID == "" || r.AgentID == q.AgentID) &&
		(q.Tool == "" || r.Tool == q.Tool) &&
		(q.Effect == nil || r.Effect == *q.Effect) &&
		(q.Since.IsZero() || !r.Time.Before(q.Since)) &&
		(q.Until.IsZero() || r.Time.Before(q.Until)) &&
		(q.DecisionID.IsZero() || r.ID == q.DecisionID)
}
