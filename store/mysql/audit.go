package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

const (
	auditCols = `chain, seq, decision_id, at, tenant, agent_id, on_behalf_of, session_id, tool, resource,
	attributes, credential_id, hop_ids, effect, rule, reason, approval_id, latency, prev_hash, hash, vouched_by,
	request_id, shadow_effect, shadow_rule`

	auditRow = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

	sqlAppendAudit = `INSERT INTO {p}audit (` + auditCols + `) VALUES `
	sqlAuditHas    = `SELECT 1 FROM {p}audit WHERE chain = ? AND seq = ?`
	sqlAuditHead   = `SELECT ` + auditCols + ` FROM {p}audit WHERE chain = ? ORDER BY seq DESC LIMIT 1`
)

// auditArgs is the number of parameters of one record.
const auditArgs = 24

// AppendAudit implements store.Audit: the batch is stored whole or not at
// all. It checks that the record before the batch is stored, then inserts
// the batch in statements of bounded size, in one transaction when there
// are several; with the (chain, seq) primary key, of two writers racing
// for the same seq the second fails, so a chain never has a gap or a
// fork. The empty chain is refused with store.ErrInvalid.
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
	if first == 0 || first-1 > math.MaxInt64-uint64(len(recs)) {
		return conflict(op, "chain %q: batch starts at seq %d", chain, first)
	}
	args := make([]any, 0, auditArgs*len(recs))
	for i := range recs {
		r := &recs[i]
		switch {
		case r.Chain != chain:
			return conflict(op, "record %d of %d is of chain %q, not %q", i, len(recs), r.Chain, chain)
		case r.Seq != first+uint64(i):
			return conflict(op, "chain %q: record %d of %d has seq %d, want %d", chain, i, len(recs), r.Seq, first+uint64(i))
		}
		t, err := storedTime("audit time", r.Time)
		if err != nil {
			return err
		}
		args = append(args, chain, int64(r.Seq), r.ID[:], t, r.Tenant, r.AgentID, r.OnBehalfOf, r.SessionID,
			r.Tool, r.Resource, bytesOrNull(r.Attributes), r.CredentialID, encodeList(r.HopIDs), int16(r.Effect),
			r.Rule, r.Reason, r.ApprovalID, int64(r.Latency), r.PrevHash[:], r.Hash[:], r.VouchedBy, r.RequestID,
			r.ShadowEffect, r.ShadowRule)
	}
	ends := appendChunks(recs)
	return s.write(ctx, op, func(ctx context.Context) error {
		if len(ends) == 1 {
			return s.appendAudit(ctx, nil, op, chain, first, args, 0, len(recs))
		}
		// A large batch goes in several statements of bounded size, in
		// one transaction: still stored whole or not at all.
		return s.inTx(ctx, func(tx *sql.Tx) error {
			from := 0
			for _, to := range ends {
				if err := s.appendAudit(ctx, tx, op, chain, first, args, from, to); err != nil {
					return err
				}
				from = to
			}
			return nil
		})
	})
}

// Bounds of one INSERT of audit records: a statement stays small and
// quick, however large the batch, and well under max_allowed_packet.
const (
	appendMaxRecords = 512
	appendMaxBytes   = 1 << 20
)

// appendChunks splits recs into statements of at most appendMaxRecords
// records and about appendMaxBytes bytes, returning where each ends.
func appendChunks(recs []store.AuditRecord) []int {
	var ends []int
	n, size := 0, 0
	for i := range recs {
		if n == appendMaxRecords || (n > 0 && size >= appendMaxBytes) {
			ends = append(ends, i)
			n, size = 0, 0
		}
		n++
		size += len(recs[i].Attributes) + len(recs[i].Reason) + len(recs[i].Resource) + 256
	}
	return append(ends, len(recs))
}

// appendAudit inserts records from to to of the batch, which starts at
// seq first, in tx when tx is not nil; the first statement of a batch starting after seq 1 checks
// that the record before it is stored. Records are never deleted, so the
// check holds until the insert.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, op, chain string, first uint64, args []any, from, to int) error {
	start := first + uint64(from)
	if from == 0 && first > 1 {
		var one int
		err := s.queryRow(ctx, tx, s.q.auditHas, chain, int64(first-1)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return conflict(op, "chain %q: batch starting at seq %d does not continue the stored chain", chain, start)
		}
		if err != nil {
			return err
		}
	}
	_, err := s.exec(ctx, tx, s.q.appendAuditRows(to-from), args[from*auditArgs:to*auditArgs]...)
	if isDuplicate(err) {
		return conflict(op, "chain %q already holds seq %d to %d, or part of it", chain, start, first+uint64(to)-1)
	}
	return err
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
	var r store.AuditRecord
	err := s.read(ctx, op, func(ctx context.Context) error {
		var err error
		r, err = scanAudit(s.queryRow(ctx, nil, s.q.auditHead, chain))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(op, "chain %q is empty", chain)
		}
		return err
	})
	if err != nil {
		return store.AuditRecord{}, err
	}
	return r, nil
}

// QueryAudit implements store.Audit.
func (s *Store) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	const op = "query audit"
	var (
		where []string
		args  []any
	)
	add := func(cond string, vs ...any) {
		where = append(where, cond)
		args = append(args, vs...)
	}
	if q.Chain != "" {
		add("chain = ?", q.Chain)
	}
	if q.Tenant != "" {
		add("tenant = ?", q.Tenant)
	}
	if q.AgentID != "" {
		add("agent_id = ?", q.AgentID)
	}
	if q.Tool != "" {
		add("tool = ?", q.Tool)
	}
	if q.Effect != nil {
		add("effect = ?", int16(*q.Effect))
	}
	if !q.Since.IsZero() {
		add("at >= ?", compareTime(q.Since))
	}
	if !q.Until.IsZero() {
		// A record with the zero time is before any Until.
		add("(at < ? OR at IS NULL)", compareTime(q.Until))
	}
	if !q.DecisionID.IsZero() {
		add("decision_id = ?", q.DecisionID[:])
	}
	afterChain := q.AfterChain
	if afterChain == "" {
		afterChain = q.Chain
	}
	switch {
	case q.AfterSeq > math.MaxInt64:
		// No stored seq is that large: only later chains remain.
		add("chain > ?", afterChain)
	case afterChain != "" || q.AfterSeq > 0:
		add("(chain > ? OR chain = ? AND seq > ?)", afterChain, afterChain, int64(q.AfterSeq))
	}
	query := `SELECT ` + auditCols + ` FROM ` + s.prefix + `audit`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY chain, seq`
	if q.Limit > 0 {
		args = append(args, q.Limit)
		query += ` LIMIT ?`
	}
	var out []store.AuditRecord
	err := s.read(ctx, op, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.query(ctx, nil, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanAudit(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func scanAudit(row scanner) (store.AuditRecord, error) {
	var (
		r                  store.AuditRecord
		seq, latency       int64
		id, prevHash, hash []byte
		t                  sql.NullInt64
		attrs, hops, reqID []byte
		shEffect, shRule   []byte
		effect             int16
	)
	err := row.Scan(&r.Chain, &seq, &id, &t, &r.Tenant, &r.AgentID, &r.OnBehalfOf, &r.SessionID, &r.Tool, &r.Resource,
		&attrs, &r.CredentialID, &hops, &effect, &r.Rule, &r.Reason, &r.ApprovalID, &latency, &prevHash, &hash,
		&r.VouchedBy, &reqID, &shEffect, &shRule)
	if err != nil {
		return store.AuditRecord{}, err
	}
	r.Seq = uint64(seq)
	copy(r.ID[:], id)
	r.RequestID = string(reqID) // NULL in records older than the column
	r.ShadowEffect, r.ShadowRule = string(shEffect), string(shRule)
	r.Time = loadTime(t)
	if attrs != nil {
		r.Attributes = json.RawMessage(attrs)
	}
	if r.HopIDs, err = decodeList(hops); err != nil {
		return store.AuditRecord{}, err
	}
	r.Effect = store.Effect(effect)
	r.Latency = time.Duration(latency)
	copy(r.PrevHash[:], prevHash)
	copy(r.Hash[:], hash)
	return r, nil
}
