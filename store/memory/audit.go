package memory

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/agenttrust/agenttrust/store"
)

// AppendAudit implements store.Audit. Every record of the batch must name
// the same, non-empty chain (an empty one is refused with
// store.ErrInvalid, another chain with store.ErrConflict); the first
// record of a chain has Seq 1.
func (s *Store) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	const op = "append audit"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	chain := recs[0].Chain
	for i := range recs {
		switch {
		case recs[i].Chain == "":
			return fmt.Errorf("agenttrust/store/memory: %s: record %d of %d has no chain: %w", op, i, len(recs), store.ErrInvalid)
		case recs[i].Chain != chain:
			return fmt.Errorf("agenttrust/store/memory: %s: record %d of %d is of chain %q, not %q: %w",
				op, i, len(recs), recs[i].Chain, chain, store.ErrConflict)
		}
	}

	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableHeads, indexID, chain)
	if err != nil {
		return internal(op, err)
	}
	next := uint64(1)
	if raw != nil {
		next = raw.(*store.AuditRecord).Seq + 1
	}
	var row *store.AuditRecord
	for i := range recs {
		if recs[i].Seq != next {
			return fmt.Errorf("agenttrust/store/memory: %s: record %d of %d has seq %d, want %d in chain %q: %w",
				op, i, len(recs), recs[i].Seq, next, chain, store.ErrConflict)
		}
		r := cloneAudit(recs[i])
		row = &r
		if err := txn.Insert(tableAudit, row); err != nil {
			return internal(op, err)
		}
		next++
	}
	if err := txn.Insert(tableHeads, row); err != nil {
		return internal(op, err)
	}
	txn.Commit()
	return nil
}

// AuditHead implements store.Audit. An empty chain is refused with
// store.ErrInvalid.
func (s *Store) AuditHead(ctx context.Context, chain string) (store.AuditRecord, error) {
	const op = "audit head"
	if err := s.ready(ctx, op); err != nil {
		return store.AuditRecord{}, err
	}
	if chain == "" {
		return store.AuditRecord{}, fmt.Errorf("agenttrust/store/memory: %s: empty chain: %w", op, store.ErrInvalid)
	}
	raw, err := s.db.Txn(false).First(tableHeads, indexID, chain)
	if err != nil {
		return store.AuditRecord{}, internal(op, err)
	}
	if raw == nil {
		return store.AuditRecord{}, fmt.Errorf("agenttrust/store/memory: %s: chain %q is empty: %w", op, chain, store.ErrNotFound)
	}
	return cloneAudit(*raw.(*store.AuditRecord)), nil
}

// QueryAudit implements store.Audit. Chains are ordered bytewise, as by
// strings.Compare. It seeks to the later of (q.AfterChain, q.AfterSeq)
// and the start of q.Chain, scans forward filtering the other fields, and
// stops at the end of q.Chain. Without q.Chain and q.AfterChain, q.AfterSeq
// is a position before every record: no chain is empty.
func (s *Store) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	const op = "query audit"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	after := auditPos{q.AfterChain, q.AfterSeq}
	if q.Chain != "" {
		if after.chain == "" {
			after.chain = q.Chain
		}
		if start := (auditPos{q.Chain, 0}); after.compare(start) < 0 {
			after = start // no record has Seq 0
		}
	}
	it, err := s.db.Txn(false).LowerBound(tableAudit, indexID, after.chain, after.seq)
	if err != nil {
		return nil, internal(op, err)
	}
	var out []store.AuditRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		r := raw.(*store.AuditRecord)
		if q.Chain != "" && r.Chain != q.Chain {
			break
		}
		if (auditPos{r.Chain, r.Seq}).compare(after) <= 0 || !auditMatches(r, &q) {
			continue
		}
		out = append(out, cloneAudit(*r))
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

// auditPos is a position in (Chain, Seq) order.
type auditPos struct {
	chain string
	seq   uint64
}

func (p auditPos) compare(o auditPos) int {
	return cmp.Or(strings.Compare(p.chain, o.chain), cmp.Compare(p.seq, o.seq))
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
