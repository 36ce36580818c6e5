package mysql

import (
	"context"
	"database/sql"
	"strings"
)

// Every statement whose text is fixed is prepared when the store opens and
// kept, and database/sql prepares a kept statement again on each
// connection it runs on, once. A call is then one round trip per
// statement, rather than a prepare, an execute and a close; statements
// whose text depends on the call (filters, batches) are prepared for the
// call. Each connection holds about 40 prepared statements
// (max_prepared_stmt_count bounds them server-wide, 16382 by default).

// keptAuditRows is the largest audit batch whose INSERT is kept.
const keptAuditRows = 4

// keptQueries lists the statements Open prepares.
func (q *queries) kept() []string {
	list := []string{
		q.revoke, q.suspend, q.resume, q.pruneSelect, q.pruneDelete, q.blocks, q.blocksEvery,
		q.createApproval, q.approval, q.decideApproval, q.approvalState, q.consumeCandidate, q.consume, q.pendingApproval,
		q.policy, q.policyCreate, q.policyReplace,
		q.auditHas, q.auditHead,
		q.createKey, q.keyByHash, q.key, q.keys, q.createHop,
		q.bumpSeq, q.readSeq, q.trimLog, q.pollLog, q.logChangeRows(1),
		q.takeRate, q.pruneRates,
	}
	list = append(list, q.blockedIn[:]...)
	for n := 1; n <= keptAuditRows; n++ {
		list = append(list, q.appendAuditRows(n))
	}
	return list
}

// logChangeRows is the INSERT of n rows into the change log.
func (q *queries) logChangeRows(n int) string {
	return q.logChange + "(?, ?, ?, ?)" + strings.Repeat(", (?, ?, ?, ?)", n-1)
}

// appendAuditRows is the INSERT of n audit records.
func (q *queries) appendAuditRows(n int) string {
	return q.appendAudit + auditRow + strings.Repeat(", "+auditRow, n-1)
}

// prepare prepares the kept statements.
func (s *Store) prepare(ctx context.Context) error {
	s.kept = map[string]*sql.Stmt{}
	for _, query := range s.q.kept() {
		if _, ok := s.kept[query]; ok {
			continue
		}
		st, err := s.db.PrepareContext(ctx, query)
		if err != nil {
			s.closeStmts()
			return err
		}
		s.kept[query] = st
	}
	return nil
}

// closeStmts closes the kept statements.
func (s *Store) closeStmts() {
	for _, st := range s.kept {
		st.Close()
	}
}

// stmt returns the kept statement of query, in tx when tx is not nil, or
// nil when query is not kept.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	st := s.kept[query]
	if st != nil && tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return st
}

// exec runs query, in tx when tx is not nil.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.stmt(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if tx != nil {
		return tx.ExecContext(ctx, query, args...)
	}
	return s.db.ExecContext(ctx, query, args...)
}

// query runs query, in tx when tx is not nil.
func (s *Store) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, tx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryContext(ctx, query, args...)
	}
	return s.db.QueryContext(ctx, query, args...)
}

// queryRow runs query, which returns at most one row, in tx when tx is
// not nil.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := s.stmt(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryRowContext(ctx, query, args...)
	}
	return s.db.QueryRowContext(ctx, query, args...)
}
