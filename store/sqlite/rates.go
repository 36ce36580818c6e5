package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.ClusterLimiter = (*Store)(nil)

// takeRate is a take of store.ClusterLimiter in one statement: it inserts
// the row of a new key (allowed, as Burst is at least 1), or updates the
// TAT of an existing one only when the take is allowed, and returns a row
// exactly then. ?4 is now, ?5 the interval, ?6 (burst-1)*interval, all in
// nanoseconds. The statement runs on the one write connection, in its own
// transaction, which holds the file's write lock: takes of other
// processes sharing the file wait for it.
const takeRate = `INSERT INTO rates (tenant, limit_id, key, tat) VALUES (?1, ?2, ?3, ?4 + ?5)
	ON CONFLICT (tenant, limit_id, key) DO UPDATE SET tat = max(tat, ?4) + ?5
	WHERE max(tat, ?4) - ?4 <= ?6
	RETURNING tat`

// TakeRate implements store.ClusterLimiter. The take commits with
// synchronous=NORMAL: it survives a crash of the process, not a power
// loss, and costs no sync of the log (a sync that the next FULL commit of
// the connection makes anyway). The connection is back to its own mode
// before it serves another write; if that fails, it is discarded.
func (s *Store) TakeRate(ctx context.Context, r store.RateTake) (bool, error) {
	const op = "take rate"
	if err := s.ready(ctx, op); err != nil {
		return false, err
	}
	if err := r.Validate(); err != nil {
		return false, err
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return false, s.fail(ctx, op, err)
	}
	defer conn.Close()
	if s.syncMode != "NORMAL" {
		if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
			return false, s.fail(ctx, op, err)
		}
		defer func() {
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = `+s.syncMode); err != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // never reused
			}
		}()
	}
	var tat int64
	err = conn.QueryRowContext(ctx, takeRate, r.Tenant, r.Limit, r.Key, r.Now.UnixNano(), int64(r.Interval), int64(r.Burst-1)*int64(r.Interval)).Scan(&tat)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	}
	return false, s.fail(ctx, op, err)
}

// PruneRates implements store.ClusterLimiter.
func (s *Store) PruneRates(ctx context.Context, tenant string, now time.Time) (int, error) {
	const op = "prune rates"
	if err := s.ready(ctx, op); err != nil {
		return 0, err
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM rates WHERE tenant = ? AND tat <= ?`, tenant, clampTime(now))
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	return int(n), nil
}
