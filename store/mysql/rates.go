package mysql

import (
	"context"
	"fmt"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.ClusterLimiter = (*Store)(nil)

const (
	// sqlTakeRate is a take of store.ClusterLimiter in one statement. It
	// inserts the row of a new key (allowed, as Burst is at least 1), or
	// sets the TAT of an existing one to IF(allowed, new TAT, TAT). The
	// arguments are now, now + interval, then now three times, (burst-1)
	// * interval, now and the interval, all in nanoseconds. MySQL has no
	// RETURNING: the affected-row count tells the outcome, 1 for an
	// insert and 2 for a changed row (an allowed take always moves the
	// TAT on), 0 for a row left as it was (a refusal). The store never
	// sets the driver's clientFoundRows, which would count a refusal as
	// 1 (see Open).
	//
	// InnoDB locks the row, existing or inserted, before the update reads
	// it, and the update reads its latest committed version (not the
	// transaction's snapshot), so concurrent takes from any number of
	// nodes see each other's TAT. Two takes inserting one new key at once
	// may deadlock on the key's gap; the server rolls one back, and it is
	// tried again (see write).
	sqlTakeRate = `INSERT INTO {p}rates (tenant, limit_id, limit_key, tat) VALUES (?, ?, ?, ?)
ON DUPLICATE KEY UPDATE tat = IF(GREATEST(tat, ?) - ? <= ?, GREATEST(tat, ?) + ?, tat)`

	sqlPruneRates = `DELETE FROM {p}rates WHERE tenant = ? AND tat <= ?`
)

// TakeRate implements store.ClusterLimiter: one statement, one round trip.
// It commits as every write of the store does, durably as the server's
// innodb_flush_log_at_trx_commit says (MySQL has no per-transaction
// setting to relax it).
func (s *Store) TakeRate(ctx context.Context, r store.RateTake) (bool, error) {
	const op = "take rate"
	if err := s.ready(ctx, op); err != nil {
		return false, err
	}
	if err := r.Validate(); err != nil {
		return false, err
	}
	now, interval := r.Now.UnixNano(), int64(r.Interval)
	window := int64(r.Burst-1) * interval
	var allowed bool
	err := s.write(ctx, op, func(ctx context.Context) error {
		res, err := s.exec(ctx, nil, s.q.takeRate, r.Tenant, r.Limit, r.Key, now+interval,
			now, now, window, now, interval)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		switch n {
		case 0:
			allowed = false
		case 1, 2:
			allowed = true
		default:
			// Fail closed: a count the statement cannot give.
			return fmt.Errorf("the take affected %d rows", n)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return allowed, nil
}

// PruneRates implements store.ClusterLimiter: one DELETE on the tenant's
// range of the primary key.
func (s *Store) PruneRates(ctx context.Context, tenant string, now time.Time) (int, error) {
	const op = "prune rates"
	var n int64
	err := s.write(ctx, op, func(ctx context.Context) error {
		res, err := s.exec(ctx, nil, s.q.pruneRates, tenant, compareTime(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
