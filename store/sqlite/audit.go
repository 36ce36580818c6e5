package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

const auditCols = `chain, seq, id, time, tenant, agent_id, on_behalf_of, session_id, tool, resource, attributes,
	credential_id, hop_ids, effect, rule, reason, approval_id, latency, prev_hash, hash, vouched_by, request_id,
	shadow_effect, shadow_rule`

// auditSelect is what a read of the audit table selects: auditCols, then
// whether the columns a query filters or orders on hold the storage class
// AppendAudit writes. SQLite keeps any class in any column and compares a
// BLOB unequal to every TEXT: a writer of the file who stores agent_id as
// a BLOB, or effect as 257, leaves a record that reads back as it was
// hashed (the chain verifies) but that agent_id = ? or effect = ? no
// longer finds. scanRecord refuses such a row, so verification, which
// reads every row, reports it.
const auditSelect = auditCols + `,
	typeof(chain) = 'text' AND typeof(seq) = 'integer' AND typeof(id) = 'blob' AND typeof(time) = 'integer'
	AND typeof(tenant) = 'text' AND typeof(agent_id) = 'text' AND typeof(tool) = 'text'
	AND typeof(effect) = 'integer' AND effect BETWEEN 0 AND 255`

// auditColCount is the number of auditCols.
const auditColCount = 24

// insertRowsLog2 bounds the rows of one audit INSERT: AppendAudit
// inserts a batch in statements of 1, 2, 4, ... 1<<insertRowsLog2 rows,
// each prepared at Open, so that no batch prepares a statement. 64 rows
// bind 64 times auditColCount variables, far under SQLite's limit of
// 32,766; the values are bound, not in the SQL text, so no statement
// grows with their bytes.
const insertRowsLog2 = 6

// insertAudit returns the statement that stores n audit rows. OR ROLLBACK
// makes a refused row end the whole transaction, as AppendAudit would
// anyway, so SQLite keeps no statement journal to undo just the one
// statement (measured, a few percent of a row).
func insertAudit(n int) string {
	row := "(" + strings.Repeat("?, ", auditColCount-1) + "?)"
	var b strings.Builder
	b.WriteString(`INSERT OR ROLLBACK INTO audit (` + auditCols + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// scanRecord reads one row of auditSelect.
func scanRecord(sc interface{ Scan(...any) error }) (store.AuditRecord, error) {
	var r store.AuditRecord
	var seq, tm, effect, latency int64
	var id, prev, hash, attrs []byte
	var hops sql.NullString
	var stored bool
	if err := sc.Scan(&r.Chain, &seq, &id, &tm, &r.Tenant, &r.AgentID, &r.OnBehalfOf, &r.SessionID, &r.Tool, &r.Resource, &attrs,
		&r.CredentialID, &hops, &effect, &r.Rule, &r.Reason, &r.ApprovalID, &latency, &prev, &hash, &r.VouchedBy, &r.RequestID,
		&r.ShadowEffect, &r.ShadowRule, &stored); err != nil {
		return store.AuditRecord{}, err
	}
	if !stored {
		return store.AuditRecord{}, fmt.Errorf("record %d of chain %q: %w", seq, r.Chain, errEditedRecord)
	}
	if len(id) != len(r.ID) || len(prev) != len(r.PrevHash) || len(hash) != len(r.Hash) {
		return store.AuditRecord{}, fmt.Errorf("record %d of chain %q: malformed id or hash", seq, r.Chain)
	}
	list, err := decList(hops)
	if err != nil {
		return store.AuditRecord{}, fmt.Errorf("hop ids of record %d of chain %q: %w", seq, r.Chain, err)
	}
	r.Seq = uint64(seq)
	copy(r.ID[:], id)
	r.Time = decTime(tm)
	r.Attributes = nullBytes(attrs)
	r.HopIDs = list
	r.Effect = store.Effect(effect)
	r.Latency = time.Duration(latency)
	copy(r.PrevHash[:], prev)
	copy(r.Hash[:], hash)
	return r, nil
}

// AppendAudit implements store.Audit. A batch of the empty chain is
// refused with store.ErrInvalid. The batch is checked, then stored in one
// write transaction, which reads the chain's head and inserts the records
// with multi-row INSERTs prepared at Open.
func (s *Store) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	const op = "append audit"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	chain, first := recs[0].Chain, recs[0].Seq
	if chain == "" {
		// No query could name the empty chain apart from every chain.
		return invalid(op, "empty chain")
	}
	if first == 0 || first > math.MaxInt64-uint64(len(recs)) {
		return fmt.Errorf("%s: %s to chain %q: first record has seq %d: %w", prefix, op, chain, first, store.ErrConflict)
	}
	e := encoder{op: op}
	args := make([]any, 0, len(recs)*auditColCount)
	for i := range recs {
		r := &recs[i]
		if r.Chain != chain {
			return fmt.Errorf("%s: %s: record %d of %d is of chain %q, not %q: %w", prefix, op, i, len(recs), r.Chain, chain, store.ErrConflict)
		}
		if r.Seq != first+uint64(i) {
			return fmt.Errorf("%s: %s to chain %q: record %d of %d has seq %d, want %d: %w",
				prefix, op, chain, i, len(recs), r.Seq, first+uint64(i), store.ErrConflict)
		}
		args = append(args, r.Chain, int64(r.Seq), r.ID[:], e.time("Time", r.Time), r.Tenant, r.AgentID, r.OnBehalfOf,
			r.SessionID, r.Tool, r.Resource, blob(r.Attributes), r.CredentialID, e.list("HopIDs", r.HopIDs), int64(r.Effect),
			r.Rule, r.Reason, r.ApprovalID, int64(r.Latency), r.PrevHash[:], r.Hash[:], r.VouchedBy, r.RequestID,
			r.ShadowEffect, r.ShadowRule)
	}
	if e.err != nil {
		return e.err
	}
	return s.write(ctx, op, func(tx *sql.Tx) error {
		var head int64
		err := tx.StmtContext(ctx, s.chainHead).QueryRowContext(ctx, chain).Scan(&head)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return s.fail(ctx, op, err)
		}
		if first != uint64(head)+1 {
			return fmt.Errorf("%s: %s to chain %q: batch starts at seq %d, want %d: %w", prefix, op, chain, first, head+1, store.ErrConflict)
		}
		// The rows go in under a context that cannot end: the driver
		// watches a context that can with a goroutine per statement.
		// ctx still bounds the transaction: database/sql rolls it back
		// when ctx ends, and the commit waits on it.
		rowCtx := context.WithoutCancel(ctx)
		for i := 0; i < len(recs); {
			k := min(len(recs)-i, 1<<insertRowsLog2)
			k = 1 << (bits.Len(uint(k)) - 1) // the largest power of two, at most what is left
			insert := tx.StmtContext(ctx, s.insertAudit[bits.Len(uint(k))-1])
			if _, err := insert.ExecContext(rowCtx, args[i*auditColCount:(i+k)*auditColCount]...); err != nil {
				err = s.fail(ctx, op, err)
				if errors.Is(err, store.ErrConflict) { // the primary key backs the check of the head
					return fmt.Errorf("%s: %s to chain %q: a seq from %d to %d is taken: %w",
						prefix, op, chain, recs[i].Seq, recs[i+k-1].Seq, store.ErrConflict)
				}
				return err
			}
			i += k
		}
		return nil
	})
}

// AuditHead implements store.Audit.
func (s *Store) AuditHead(ctx context.Context, chain string) (store.AuditRecord, error) {
	const op = "audit head"
	if err := s.ready(ctx, op); err != nil {
		return store.AuditRecord{}, err
	}
	if chain == "" {
		return store.AuditRecord{}, invalid(op, "empty chain")
	}
	r, err := scanRecord(s.auditHead.QueryRowContext(ctx, chain))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.AuditRecord{}, fmt.Errorf("%s: %s of chain %q: chain is empty: %w", prefix, op, chain, store.ErrNotFound)
	case err != nil:
		return store.AuditRecord{}, s.fail(ctx, op, err)
	}
	return r, nil
}

// QueryAudit implements store.Audit in one query on the indexes of the
// audit table: (chain, seq) orders and pages, (tenant, time), agent, tool
// and decision id narrow.
func (s *Store) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	const op = "query audit"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	query, args := auditQuery(q)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// auditQuery is the SQL of QueryAudit for q, and its arguments.
func auditQuery(q store.AuditQuery) (string, []any) {
	var b strings.Builder
	var args []any
	b.WriteString(`SELECT ` + auditSelect + ` FROM audit WHERE 1`)
	where := func(cond string, arg any) {
		b.WriteString(" AND " + cond)
		args = append(args, arg)
	}
	if q.Chain != "" {
		where("chain = ?", q.Chain)
	}
	if q.Tenant != "" {
		// A page after a cursor reads on along the key. On the tenant's
		// (tenant, time) index every page would sort all the tenant's
		// records again, and reading a trail page by page would grow
		// with its square; "+" keeps the planner off that index.
		if q.AfterChain != "" || q.AfterSeq != 0 {
			where("+tenant = ?", q.Tenant)
		} else {
			where("tenant = ?", q.Tenant)
		}
	}
	if q.AgentID != "" {
		where("agent_id = ?", q.AgentID)
	}
	if q.Tool != "" {
		where("tool = ?", q.Tool)
	}
	if q.Effect != nil {
		where("effect = ?", int64(*q.Effect))
	}
	if !q.Since.IsZero() {
		where("time >= ?", clampTime(q.Since))
	}
	if !q.Until.IsZero() {
		where("time < ?", clampTime(q.Until))
	}
	if !q.DecisionID.IsZero() {
		where("id = ?", q.DecisionID[:])
	}
	afterChain := q.AfterChain
	if afterChain == "" {
		afterChain = q.Chain
	}
	switch {
	case q.Chain != "" && afterChain == q.Chain:
		// Paging within one chain: a range on seq, which the primary key
		// serves. Beside chain = ?, SQLite would not use the row value
		// for the range, and every page would scan the chain from its
		// start. No stored seq exceeds math.MaxInt64, so clamping keeps
		// the meaning.
		b.WriteString(" AND seq > ?")
		args = append(args, int64(min(q.AfterSeq, math.MaxInt64)))
	case afterChain != "" || q.AfterSeq != 0:
		b.WriteString(" AND (chain, seq) > (?, ?)")
		args = append(args, afterChain, int64(min(q.AfterSeq, math.MaxInt64)))
	}
	b.WriteString(" ORDER BY chain, seq")
	if q.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, q.Limit)
	}
	return b.String(), args
}
