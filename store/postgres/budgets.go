package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.Budgeter = (*Store)(nil)

// budgetCols are the columns of a budgets row, in scanBudget's order.
const budgetCols = `tenant, node, name, holder, path, depth, limit_units, spent, carved, carved_spent, created_at, expires_at, released`

func scanBudget(row pgx.Row) (store.BudgetRow, error) {
	var r store.BudgetRow
	var created int64
	var expires pgtype.Int8
	var depth int32
	err := row.Scan(&r.Tenant, &r.Node, &r.Name, &r.Holder, &r.Path, &depth, &r.Limit, &r.Spent, &r.Carved, &r.CarvedSpent, &created, &expires, &r.Released)
	r.Depth, r.CreatedAt, r.ExpiresAt = int(depth), time.Unix(0, created).UTC(), loadTime(expires)
	return r, err
}

// budgetTx is store.BudgetTx in a READ COMMITTED transaction: the
// chain's rows are locked with one SELECT ... ORDER BY depth, node, name
// FOR UPDATE, which locks them in that order, each read in its latest
// committed version once locked; the writes go in one batch. A spend is
// four round trips (begin, lock, write, commit; five when it meets a row
// not seen before), of which two hold the locks: every spend of a tree
// queues on its root's row.
type budgetTx struct{ tx pgx.Tx }

const sqlLockBudgets = `SELECT ` + budgetCols + ` FROM budgets
	WHERE tenant = $1 AND (node, name) IN (SELECT * FROM unnest($2::text[], $3::text[]))
	ORDER BY depth, node, name FOR UPDATE`

func (t budgetTx) LockRows(ctx context.Context, tenant string, keys []store.BudgetKey) ([]store.BudgetRow, error) {
	out := make([]store.BudgetRow, len(keys))
	nodes, names := make([]string, 0, len(keys)), make([]string, 0, len(keys))
	// A row another spend committed while a statement waited for a lock
	// is not in that statement's snapshot, yet the rows it locked already
	// count it (a holder's Carved): taken as missing, the row would be
	// carved a second time and refused. So the rows not found are read
	// again, each time by a statement whose snapshot follows every lock
	// held so far, until one finds nothing more. A row still missing then
	// is truly absent: its inserter must lock its holder, held here, or
	// insert a key this spend inserts too, a unique violation that
	// retries. The first read may find nothing yet wait for nothing; it
	// is read again once, as a row may have been committed since.
	for pass := 0; ; pass++ {
		nodes, names = nodes[:0], names[:0]
		for i, k := range keys {
			if out[i].Node == "" {
				nodes, names = append(nodes, k.Node), append(names, k.Name)
			}
		}
		if len(nodes) == 0 {
			return out, nil
		}
		found, err := t.query(ctx, sqlLockBudgets, tenant, nodes, names)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 && pass > 0 {
			return out, nil
		}
		place(out, keys, found)
	}
}

// place puts each row of found at the index of its key.
func place(out []store.BudgetRow, keys []store.BudgetKey, found []store.BudgetRow) {
	for _, r := range found {
		for i, k := range keys {
			if k.Node == r.Node && k.Name == r.Name {
				out[i] = r
			}
		}
	}
}

func (t budgetTx) query(ctx context.Context, q string, args ...any) ([]store.BudgetRow, error) {
	rows, err := t.tx.Query(ctx, q, args...)
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
	return t.query(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant = $1 AND holder = $2 AND name = $3 AND NOT released AND expires_at <= $4
		ORDER BY depth, node, name FOR UPDATE`, tenant, holder, name, compareTime(now))
}

func (t budgetTx) RowsUnder(ctx context.Context, tenant, id string) ([]store.BudgetRow, error) {
	return t.query(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant = $1 AND NOT released AND position($2 in path) > 0`, tenant, "/"+id+"/")
}

func (t budgetTx) Write(ctx context.Context, ws []store.BudgetWrite) error {
	var b pgx.Batch
	for _, w := range ws {
		r := &w.Row
		if w.Insert {
			created, err := storedTime("created_at", r.CreatedAt)
			if err != nil {
				return err
			}
			expires := pgtype.Int8{Int64: compareTime(r.ExpiresAt), Valid: !r.ExpiresAt.IsZero()}
			b.Queue(`INSERT INTO budgets (`+budgetCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				r.Tenant, r.Node, r.Name, r.Holder, r.Path, int32(r.Depth), r.Limit, r.Spent, r.Carved, r.CarvedSpent, created.Int64, expires, r.Released)
			continue
		}
		b.Queue(`UPDATE budgets SET spent = $1, carved = $2, carved_spent = $3, released = $4 WHERE tenant = $5 AND node = $6 AND name = $7`,
			r.Spent, r.Carved, r.CarvedSpent, r.Released, r.Tenant, r.Node, r.Name)
	}
	if b.Len() == 0 {
		return nil
	}
	return t.tx.SendBatch(ctx, &b).Close()
}

// budgetAttempts bounds the retries of a budget transaction that lost a
// race: two first uses inserting the same row (a unique violation), or a
// deadlock or serialization failure the lock order should prevent.
const budgetAttempts = 8

// retryable reports whether a budget transaction failed only for losing
// a race with another, and may run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// inBudgetTx runs fn in a transaction, again while it loses races.
func (s *Store) inBudgetTx(ctx context.Context, op string, fn func(tx budgetTx) error) error {
	return s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		for attempt := 1; ; attempt++ {
			err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return fn(budgetTx{tx}) })
			if err == nil || attempt == budgetAttempts || !retryable(err) || errors.Is(err, store.ErrInvalid) {
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
	err := s.read(ctx, "budgets", func(ctx context.Context, c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT `+budgetCols+` FROM budgets WHERE tenant = $1 AND node = $2 ORDER BY name`, tenant, node)
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
