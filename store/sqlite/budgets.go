package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.Budgeter = (*Store)(nil)

// budgetCols are the columns of a budgets row, in scanBudget's order.
const budgetCols = `tenant, node, name, holder, path, depth, limit_units, spent, carved, carved_spent, created_at, expires_at, released`

type rowScanner interface{ Scan(dest ...any) error }

func scanBudget(sc rowScanner) (store.BudgetRow, error) {
	var r store.BudgetRow
	var created, expires int64
	err := sc.Scan(&r.Tenant, &r.Node, &r.Name, &r.Holder, &r.Path, &r.Depth, &r.Limit, &r.Spent, &r.Carved, &r.CarvedSpent, &created, &expires, &r.Released)
	r.CreatedAt, r.ExpiresAt = decTime(created), decTime(expires)
	return r, err
}

// budgetTx is store.BudgetTx in a transaction of the write connection,
// which began IMMEDIATE: it holds the file's write lock, so its reads
// need no row locks.
type budgetTx struct {
	s  *Store
	tx *sql.Tx
	op string
}

func (t budgetTx) LockRows(ctx context.Context, tenant string, keys []store.BudgetKey) ([]store.BudgetRow, error) {
	out := make([]store.BudgetRow, len(keys))
	for i, k := range keys {
		r, err := scanBudget(t.tx.QueryRowContext(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant = ? AND node = ? AND name = ?`, tenant, k.Node, k.Name))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, t.s.fail(ctx, t.op, err)
		default:
			out[i] = r
		}
	}
	return out, nil
}

func (t budgetTx) query(ctx context.Context, q string, args ...any) ([]store.BudgetRow, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, t.s.fail(ctx, t.op, err)
	}
	defer rows.Close()
	var out []store.BudgetRow
	for rows.Next() {
		r, err := scanBudget(rows)
		if err != nil {
			return nil, t.s.fail(ctx, t.op, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, t.s.fail(ctx, t.op, err)
	}
	return out, nil
}

func (t budgetTx) LockExpiredChildren(ctx context.Context, tenant, holder, name string, now time.Time) ([]store.BudgetRow, error) {
	return t.query(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant = ? AND holder = ? AND name = ? AND released = 0 AND expires_at <> ? AND expires_at <= ?`,
		tenant, holder, name, int64(zeroTime), clampTime(now))
}

func (t budgetTx) RowsUnder(ctx context.Context, tenant, id string) ([]store.BudgetRow, error) {
	return t.query(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant = ? AND released = 0 AND instr(path, ?) > 0`, tenant, "/"+id+"/")
}

func (t budgetTx) Write(ctx context.Context, ws []store.BudgetWrite) error {
	for _, w := range ws {
		r := &w.Row
		var err error
		if w.Insert {
			e := encoder{op: t.op}
			created, expires := e.time("created_at", r.CreatedAt), clampExpiry(r.ExpiresAt)
			if e.err != nil {
				return e.err
			}
			_, err = t.tx.ExecContext(ctx, `INSERT INTO budgets (`+budgetCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				r.Tenant, r.Node, r.Name, r.Holder, r.Path, r.Depth, r.Limit, r.Spent, r.Carved, r.CarvedSpent, created, expires, r.Released)
		} else {
			_, err = t.tx.ExecContext(ctx, `UPDATE budgets SET spent = ?, carved = ?, carved_spent = ?, released = ? WHERE tenant = ? AND node = ? AND name = ?`,
				r.Spent, r.Carved, r.CarvedSpent, r.Released, r.Tenant, r.Node, r.Name)
		}
		if err != nil {
			return t.s.fail(ctx, t.op, err)
		}
	}
	return nil
}

// clampExpiry stores an expiry: zeroTime for never, a time past what
// the store holds at its bound (it compares the same with every now).
func clampExpiry(t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	return clampTime(t)
}

// SpendBudget implements store.Budgeter in one IMMEDIATE transaction.
func (s *Store) SpendBudget(ctx context.Context, sp store.BudgetSpend) (store.BudgetRefusal, error) {
	const op = "spend budget"
	if err := s.ready(ctx, op); err != nil {
		return store.BudgetRefusal{}, err
	}
	if err := sp.Validate(); err != nil {
		return store.BudgetRefusal{}, err
	}
	var ref store.BudgetRefusal
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		var err error
		ref, err = store.SpendBudgetTx(ctx, budgetTx{s, tx, op}, &sp)
		return err
	})
	return ref, err
}

// ReleaseBudget implements store.Budgeter.
func (s *Store) ReleaseBudget(ctx context.Context, tenant, id string) (int, error) {
	const op = "release budget"
	if err := s.ready(ctx, op); err != nil {
		return 0, err
	}
	var n int
	err := s.write(ctx, op, func(tx *sql.Tx) error {
		var err error
		n, err = store.ReleaseBudgetTx(ctx, budgetTx{s, tx, op}, tenant, id)
		return err
	})
	return n, err
}

// Budgets implements store.Budgeter.
func (s *Store) Budgets(ctx context.Context, tenant, node string) ([]store.BudgetRow, error) {
	const op = "budgets"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant = ? AND node = ? ORDER BY name`, tenant, node)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	out := []store.BudgetRow{}
	for rows.Next() {
		r, err := scanBudget(rows)
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
