package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.ClusterLimiter = (*Store)(nil)

// sqlTakeRate is a take of store.ClusterLimiter in one statement: it
// inserts the row of a new key (allowed, as Burst is at least 1), or
// updates the TAT of an existing one only when the take is allowed, and
// returns a row exactly then. $4 is now, $5 the interval, $6
// (burst-1)*interval, all in nanoseconds. ON CONFLICT DO UPDATE locks
// the row and evaluates the WHERE on its latest committed version, so
// concurrent takes from any number of nodes see each other's TAT, in
// READ COMMITTED as in stricter isolation.
//
// The statement commits asynchronously (synchronous_commit off for its
// own transaction, through set_config in the CTE, which the INSERT reads
// so that it runs first): a take does not wait for the WAL to reach the
// disk, which costs a round trip instead of a round trip and a flush
// (measured: 0.2 ms against 1.9 ms). The price: a crash of the database
// server (not of a node) can forget the takes of its last moments (up to
// three times wal_writer_delay, 600 ms by default), which may then be
// taken again. Every other write of the store stays synchronous.
const sqlTakeRate = `WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))
	INSERT INTO rates AS r (tenant, limit_id, key, tat)
	SELECT $1, $2, $3, $4::bigint + $5::bigint FROM async
	ON CONFLICT (tenant, limit_id, key) DO UPDATE SET tat = GREATEST(r.tat, $4::bigint) + $5::bigint
	WHERE GREATEST(r.tat, $4::bigint) - $4::bigint <= $6::bigint
	RETURNING tat`

// TakeRate implements store.ClusterLimiter: one statement, one round trip.
func (s *Store) TakeRate(ctx context.Context, r store.RateTake) (bool, error) {
	const op = "take rate"
	if err := s.ready(ctx, op); err != nil {
		return false, err
	}
	if err := r.Validate(); err != nil {
		return false, err
	}
	var allowed bool
	err := s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		var tat int64
		err := c.QueryRow(ctx, sqlTakeRate, r.Tenant, r.Limit, r.Key, r.Now.UnixNano(), int64(r.Interval), int64(r.Burst-1)*int64(r.Interval)).Scan(&tat)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		allowed = err == nil
		return err
	})
	if err != nil {
		return false, err
	}
	return allowed, nil
}

// PruneRates implements store.ClusterLimiter.
func (s *Store) PruneRates(ctx context.Context, tenant string, now time.Time) (int, error) {
	const op = "prune rates"
	var n int64
	err := s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `DELETE FROM rates WHERE tenant = $1 AND tat <= $2`, tenant, compareTime(now))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
