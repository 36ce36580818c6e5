package mysql

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.Budgeter = (*Store)(nil)

// budgetCols are the columns of a budgets row, in scanBudget's order.
const budgetCols = `tenant, node, name, holder, path, depth, limit_units, spent, carved, carved_spent, created_at, expires_at, released`

type rowScanner interface{ Scan(dest ...any) error }

func scanBudget(sc rowScanner) (store.BudgetRow, error) {
	var r store.BudgetRow
	var created int64
	var expires sql.NullInt64
	err := sc.Scan(&r.Tenant, &r.Node, &r.Name, &r.Holder, &r.Path, &r.Depth, &r.Limit, &r.Spent, &r.Carved, &r.CarvedSpent, &created, &expires, &r.Released)
	r.CreatedAt, r.ExpiresAt = time.Unix(0, created).UTC(), loadTime(expires)
	return r, err
}

// budgetTx is store.BudgetTx in an InnoDB transaction: the chain's rows
// are locked with one SELECT ... FOR UPDATE; a locking read sees the
// latest committed version whatever the isolation level.
type budgetTx struct {
	s  *Store
	tx *sql.Tx
}

func (t budgetTx) LockRows(ctx context.Context, tenant string, keys []store.BudgetKey) ([]store.BudgetRow, error) {
	// One locking read for the chain: InnoDB locks the rows in the order
	// of the primary key it scans, one order for every spend, and a
	// locking read sees each row's latest committed version, a row
	// inserted while it waited included.
	q := `SELECT ` + budgetCols + ` FROM {p}budgets WHERE tenant = ? AND (node, name) IN (` +
		strings.TrimSuffix(strings.Repeat("(?, ?), ", len(keys)), ", ") + `) ORDER BY tenant, node, name FOR UPDATE`
	args := make([]any, 0, 1+2*len(keys))
	args = append(args, tenant)
	for _, k := range keys {
		args = append(args, k.Node, k.Name)
	}
	found, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out := make([]store.BudgetRow, len(keys))
	for _, r := range found {
		for i, k := range keys {
			if k.Node == r.Node && k.Name == r.Name {
				out[i] = r
			}
		}
	}
	return out, nil
}

func (t budgetTx) query(ctx context.Context, q string, args ...any) ([]store.BudgetRow, error) {
	rows, err := t.tx.QueryContext(ctx, table(t.s.prefix, q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.BudgetRow
	for rows.Next() {
		r, err := scanBudget(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t budgetTx) LockExpiredChildren(ctx context.Context, tenant, holder, name string, now time.Time) ([]store.BudgetRow, error) {
	return t.query(ctx, `SELECT `+budgetCols+` FROM {p}budgets WHERE tenant = ? AND holder = ? AND name = ? AND NOT released AND expires_at <= ?
		ORDER BY depth, node, name FOR UPDATE`, tenant, holder, name, compareTime(now))
}

func (t budgetTx) RowsUnder(ctx context.Context, tenant, id string) ([]store.BudgetRow, error) {
	return t.query(ctx, `SELECT `+budgetCols+` FROM {p}budgets WHERE tenant = ? AND NOT released AND LOCATE(?, path) > 0`, tenant, "/"+id+"/")
}

func (t budgetTx) Write(ctx context.Context, ws []store.BudgetWrite) error {
	ins := table(t.s.prefix, `INSERT INTO {p}budgets (`+budgetCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	upd := table(t.s.prefix, `UPDATE {p}budgets SET spent = ?, carved = ?, carved_spent = ?, released = ? WHERE tenant = ? AND node = ? AND name = ?`)
	for _, w := range ws {
		r := &w.Row
		var err error
		if w.Insert {
			created, serr := storedTime("created_at", r.CreatedAt)
			if serr != nil {
				return serr
			}
			expires := sql.NullInt64{Int64: compareTime(r.ExpiresAt), Valid: !r.ExpiresAt.IsZero()}
			_, err = t.tx.ExecContext(ctx, ins, r.Tenant, r.Node, r.Name, r.Holder, r.Path, r.Depth, r.Limit, r.Spent, r.Carved, r.CarvedSpent, created.Int64, expires, r.Released)
		} else {
			_, err = t.tx.ExecContext(ctx, upd, r.Spent, r.Carved, r.CarvedSpent, r.Released, r.Tenant, r.Node, r.Name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// budgetAttempts bounds the runs of a budget transaction that lost a
// race: two first uses inserting the same row (a duplicate key) or a
// deadlock (InnoDB's gap locks on rows not there yet). write retries a
// deadlock a few times itself; this covers the rest.
const budgetAttempts = 8

// inBudgetTx runs fn in a transaction, again while it loses races.
func (s *Store) inBudgetTx(ctx context.Context, op string, fn func(tx budgetTx) error) error {
	return s.write(ctx, op, func(ctx context.Context) error {
		for attempt := 1; ; attempt++ {
			err := s.inTx(ctx, func(tx *sql.Tx) error { return fn(budgetTx{s, tx}) })
			if err == nil || attempt == budgetAttempts || !(isDuplicate(err) || isDeadlock(err)) {
				return err
			}
		}
	})
}

// SpendBudget implements store.Budgeter in one transaction.
func (s *Store) SpendBudget(ctx context.Context, sp store.BudgetSpend) (store.BudgetRefusal, error) {
	const op = "spend budget"
	if err := s.ready(ctx, op); err != nil {
		return store.BudgetRefusal{}, err
	}
	if err := sp.Validate(); err != nil {
		return store.BudgetRefusal{}, err
	}
	var ref store.BudgetRefusal
	err := s.inBudgetTx(ctx, op, func(tx budgetTx) error {
		var err error
		ref, err = store.SpendBudgetTx(ctx, tx, &sp)
		return err
	})
	return ref, err
}

// ReleaseBudget implements store.Budgeter.
func (s *Store) ReleaseBudget(ctx context.Context, tenant, id string) (int, error) {
	var n int
	err := s.inBudgetTx(ctx, "release budget", func(tx budgetTx) error {
		var err error
		n, err = store.ReleaseBudgetTx(ctx, tx, tenant, id)
		return err
	})
	return n, err
}

// Budgets implements store.Budgeter.
func (s *Store) Budgets(ctx context.Context, tenant, node string) ([]store.BudgetRow, error) {
	out := []store.BudgetRow{}
	err := s.run(ctx, "budgets", true, func(ctx context.Context) error {
		rows, err := s.db.QueryContext(ctx, table(s.prefix, `SELECT `+budgetCols+` FROM {p}budgets WHERE tenant = ? AND node = ? ORDER BY name`), tenant, node)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = out[:0]
		for rows.Next() {
			r, err := scanBudget(rows)
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
