package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/agenttrust/agenttrust/store"
)

const (
	auditCols = `chain, seq, decision_id, time, tenant, agent_id, on_behalf_of, session_id, tool, resource,
	attributes, credential_id, hop_ids, effect, rule, reason, approval_id, latency, prev_hash, hash, vouched_by, request_id,
	shadow_effect, shadow_rule`

	// sqlAppendAudit inserts a batch of one chain in one statement, from
	// one array per column, and only if the record before the batch ($21,
	// 0 for a batch starting the chain) is stored. With the unique
	// (chain, seq) key, that keeps each chain free of gaps and repeats: of
	// two writers racing for the same seq, the second fails on the key.
	sqlAppendAudit = `INSERT INTO audit (` + auditCols + `)
SELECT $1, r.seq, r.decision_id, r.time, r.tenant, r.agent_id, r.on_behalf_of, r.session_id, r.tool, r.resource,
	r.attributes, r.credential_id, r.hop_ids::jsonb, r.effect, r.rule, r.reason, r.approval_id, r.latency, r.prev_hash, r.hash,
	r.vouched_by, r.request_id, r.shadow_effect, r.shadow_rule
FROM unnest($2::bigint[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
	$11::bytea[], $12::text[], $13::text[], $14::smallint[], $15::text[], $16::text[], $17::text[], $18::bigint[],
	$19::bytea[], $20::bytea[], $22::text[], $23::text[], $24::text[], $25::text[])
	AS r(seq, decision_id, time, tenant, agent_id, on_behalf_of, session_id, tool, resource,
	attributes, credential_id, hop_ids, effect, rule, reason, approval_id, latency, prev_hash, hash, vouched_by, request_id,
	shadow_effect, shadow_rule)
WHERE $21::bigint = 0 OR EXISTS (SELECT 1 FROM audit WHERE chain = $1 AND seq = $21::bigint)`

	sqlAuditHead = `SELECT ` + auditCols + ` FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1`
)

// auditBatch holds a batch as one slice per column, the parameters of
// sqlAppendAudit.
type auditBatch struct {
	seq                                    []int64
	id                                     [][16]byte
	time                                   []pgtype.Int8
	tenant, agent, obo, session, tool, res []string
	attrs                                  [][]byte
	cred, vouched, reqID                   []string
	shadowEffect, shadowRule               []string
	hops                                   []pgtype.Text
	effect                                 []int16
	rule, reason, approval                 []string
	latency                                []int64
	prevHash, hash                         [][]byte
}

func newAuditBatch(n int) *auditBatch {
	return &auditBatch{
		seq: make([]int64, 0, n), id: make([][16]byte, 0, n), time: make([]pgtype.Int8, 0, n),
		tenant: make([]string, 0, n), agent: make([]string, 0, n), obo: make([]string, 0, n),
		session: make([]string, 0, n), tool: make([]string, 0, n), res: make([]string, 0, n),
		attrs: make([][]byte, 0, n), cred: make([]string, 0, n), vouched: make([]string, 0, n), reqID: make([]string, 0, n), hops: make([]pgtype.Text, 0, n),
		effect: make([]int16, 0, n), rule: make([]string, 0, n), reason: make([]string, 0, n),
		approval: make([]string, 0, n), latency: make([]int64, 0, n),
		prevHash: make([][]byte, 0, n), hash: make([][]byte, 0, n),
		shadowEffect: make([]string, 0, n), shadowRule: make([]string, 0, n),
	}
}

// AppendAudit implements store.Audit in one statement: the batch is
// stored whole or not at all. The empty chain is refused with
// store.ErrInvalid.
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
	b := newAuditBatch(len(recs))
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
		hops := pgtype.Text{}
		if r.HopIDs != nil {
			// JSON would hold U+FFFD for bytes that are not UTF-8, and
			// the record would come back other than its hash covers.
			for _, h := range r.HopIDs {
				if !utf8.ValidString(h) {
					return invalid(op, "record %d of chain %q: hop id %q is not UTF-8", r.Seq, chain, h)
				}
			}
			j, err := json.Marshal(r.HopIDs)
			if err != nil {
				return invalid(op, "hop ids: %v", err)
			}
			hops = pgtype.Text{String: string(j), Valid: true}
		}
		b.seq = append(b.seq, int64(r.Seq))
		b.id = append(b.id, r.ID)
		b.time = append(b.time, t)
		b.tenant = append(b.tenant, r.Tenant)
		b.agent = append(b.agent, r.AgentID)
		b.obo = append(b.obo, r.OnBehalfOf)
		b.session = append(b.session, r.SessionID)
		b.tool = append(b.tool, r.Tool)
		b.res = append(b.res, r.Resource)
		b.attrs = append(b.attrs, []byte(r.Attributes))
		b.cred = append(b.cred, r.CredentialID)
		b.vouched = append(b.vouched, r.VouchedBy)
		b.reqID = append(b.reqID, r.RequestID)
		b.shadowEffect = append(b.shadowEffect, r.ShadowEffect)
		b.shadowRule = append(b.shadowRule, r.ShadowRule)
		b.hops = append(b.hops, hops)
		b.effect = append(b.effect, int16(r.Effect))
		b.rule = append(b.rule, r.Rule)
		b.reason = append(b.reason, r.Reason)
		b.approval = append(b.approval, r.ApprovalID)
		b.latency = append(b.latency, int64(r.Latency))
		b.prevHash = append(b.prevHash, r.PrevHash[:])
		b.hash = append(b.hash, r.Hash[:])
	}
	ends := appendChunks(recs)
	return s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		if len(ends) == 1 {
			return appendChunk(ctx, c, op, chain, first, b, 0, len(recs))
		}
		// A large batch goes in several statements of bounded size, in
		// one transaction: still stored whole or not at all.
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		from := 0
		for _, to := range ends {
			if err := appendChunk(ctx, tx.Conn(), op, chain, first, b, from, to); err != nil {
				return err
			}
			from = to
		}
		return tx.Commit(ctx)
	})
}

// Bounds of one INSERT of audit records: a statement stays small and
// quick, however large the batch.
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

// appendChunk inserts records from to to of the batch b, which starts at
// seq first.
func appendChunk(ctx context.Context, c *pgx.Conn, op, chain string, first uint64, b *auditBatch, from, to int) error {
	start := first + uint64(from)
	tag, err := c.Exec(ctx, sqlAppendAudit, chain,
		b.seq[from:to], b.id[from:to], b.time[from:to], b.tenant[from:to], b.agent[from:to], b.obo[from:to],
		b.session[from:to], b.tool[from:to], b.res[from:to], b.attrs[from:to], b.cred[from:to], b.hops[from:to],
		b.effect[from:to], b.rule[from:to], b.reason[from:to], b.approval[from:to], b.latency[from:to],
		b.prevHash[from:to], b.hash[from:to], int64(start-1), b.vouched[from:to], b.reqID[from:to],
		b.shadowEffect[from:to], b.shadowRule[from:to])
	switch {
	case isUniqueViolation(err):
		return conflict(op, "chain %q already holds seq %d to %d, or part of it", chain, start, first+uint64(to)-1)
	case err != nil:
		return err
	case tag.RowsAffected() == 0:
		return conflict(op, "chain %q: batch starting at seq %d does not continue the stored chain", chain, start)
	}
	return nil
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
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		r, err = scanAudit(c.QueryRow(ctx, sqlAuditHead, chain))
		if errors.Is(err, pgx.ErrNoRows) {
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Chain != "" {
		where = append(where, "chain = "+arg(q.Chain))
	}
	if q.Tenant != "" {
		where = append(where, "tenant = "+arg(q.Tenant))
	}
	if q.AgentID != "" {
		where = append(where, "agent_id = "+arg(q.AgentID))
	}
	if q.Tool != "" {
		where = append(where, "tool = "+arg(q.Tool))
	}
	if q.Effect != nil {
		where = append(where, "effect = "+arg(int16(*q.Effect)))
	}
	if !q.Since.IsZero() {
		where = append(where, "time >= "+arg(compareTime(q.Since)))
	}
	if !q.Until.IsZero() {
		// A record with the zero time is before any Until.
		where = append(where, "(time < "+arg(compareTime(q.Until))+" OR time IS NULL)")
	}
	if !q.DecisionID.IsZero() {
		where = append(where, "decision_id = "+arg([16]byte(q.DecisionID)))
	}
	afterChain := q.AfterChain
	if afterChain == "" {
		afterChain = q.Chain
	}
	switch {
	case q.AfterSeq > math.MaxInt64:
		// No stored seq is that large: only later chains remain.
		where = append(where, "chain > "+arg(afterChain))
	case afterChain != "" || q.AfterSeq > 0:
		where = append(where, "(chain, seq) > ("+arg(afterChain)+", "+arg(int64(q.AfterSeq))+")")
	}
	query := `SELECT ` + auditCols + ` FROM audit`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY chain, seq`
	if q.Limit > 0 {
		query += ` LIMIT ` + arg(q.Limit)
	}
	var out []store.AuditRecord
	err := s.read(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		out = out[:0]
		rows, err := c.Query(ctx, query, args...)
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

func scanAudit(row pgx.Row) (store.AuditRecord, error) {
	var (
		r              store.AuditRecord
		seq, latency   int64
		id             [16]byte
		t              pgtype.Int8
		attrs          []byte
		hops           []string
		effect         int16
		prevHash, hash []byte
	)
	err := row.Scan(&r.Chain, &seq, &id, &t, &r.Tenant, &r.AgentID, &r.OnBehalfOf, &r.SessionID, &r.Tool, &r.Resource,
		&attrs, &r.CredentialID, &hops, &effect, &r.Rule, &r.Reason, &r.ApprovalID, &latency, &prevHash, &hash,
		&r.VouchedBy, &r.RequestID, &r.ShadowEffect, &r.ShadowRule)
	if err != nil {
		return store.AuditRecord{}, err
	}
	if effect < 0 || effect > math.MaxUint8 {
		// Effect is a byte, and the chain's MAC covers that byte: 257
		// would read back as 1 (allow) and verify, while effect = 1
		// no longer finds it. Only a writer behind the store's back
		// stores such a value.
		return store.AuditRecord{}, fmt.Errorf("%s record %d of chain %q: effect %d: %w", prefix, seq, r.Chain, effect, errEditedRecord)
	}
	r.Seq = uint64(seq)
	r.ID = id
	r.Time = loadTime(t)
	if attrs != nil {
		r.Attributes = json.RawMessage(attrs)
	}
	r.HopIDs = hops
	r.Effect = store.Effect(effect)
	r.Latency = time.Duration(latency)
	copy(r.PrevHash[:], prevHash)
	copy(r.Hash[:], hash)
	return r, nil
}
