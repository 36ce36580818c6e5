package scale

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/postgres"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// sqliteNotify is notify mode over SQLite, which has no change feed: the
// view is reread whole every PollInterval, so the defaults (a reread every
// 62ms, stale after 250ms) cannot hold a large table. The run polls
// rarely; a check reads the view the same way whatever the polling.
var sqliteNotify = agenttrust.NotifyConfig{MaxStaleness: time.Hour, PollInterval: 30 * time.Minute}

// fedNotify is notify mode over a store with a change feed (memory,
// PostgreSQL) with a staleness bound of 5s rather than 250ms: on a
// 2-vCPU machine shared with other work (load average ~20), a marker's
// round trip sometimes took longer than 250ms, even in process, and
// checks then deny (fail closed) mid-measurement. A check reads the view
// the same way whatever the bound.
var fedNotify = agenttrust.NotifyConfig{MaxStaleness: 5 * time.Second}

// revocations: n ids revoked in the store, none of them the request's
// agent or session; strict mode asks the store on every check, notify
// mode reads the client's view, loaded from the store by New.
func (r *run) revocations(ctx context.Context) ([]Curve, error) {
	var out []Curve
	if r.stores[Memory] {
		st := memory.New()
		defer st.Close()
		// The memory store has no bulk path: its Revoke is the load.
		load := func(from, to int) error {
			for i := from; i < to; i++ {
				if err := st.Revoke(ctx, store.Block{Tenant: agenttrust.DefaultTenant, ID: revokedID(i), Reason: "revoked", CreatedAt: revokedAt(i)}); err != nil {
					return err
				}
			}
			return nil
		}
		cs, err := r.revocationCurves(ctx, Memory, st, load, fedNotify, r.opts.Max)
		if len(cs) == 2 {
			cs[1].Note += "; MaxStaleness 5s, see fedNotify"
		}
		out = append(out, cs...)
		if err != nil {
			return out, err
		}
	}
	if r.stores[SQLite] {
		path := filepath.Join(r.tmp, "revocations.db")
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return out, err
		}
		defer st.Close()
		bulk, err := openSQLiteBulk(path)
		if err != nil {
			return out, err
		}
		defer bulk.Close()
		cs, err := r.revocationCurves(ctx, SQLite, st, func(from, to int) error { return bulk.revocations(ctx, from, to) }, sqliteNotify, max(r.opts.Max, r.opts.NotifyMax))
		if len(cs) == 2 {
			cs[1].Note += "; polls every 30m (no change feed), see sqliteNotify"
		}
		out = append(out, cs...)
		if err != nil {
			return out, err
		}
	}
	if r.stores[Postgres] {
		schema := fmt.Sprintf("agenttrust_scale_%d", time.Now().UnixNano())
		// New reads every revocation in one query, which at 1,000,000
		// rows outlasts the default 2s query timeout here.
		st, err := postgres.Open(ctx, r.pgURL, postgres.WithSchema(schema), postgres.WithQueryTimeout(5*time.Minute))
		if err != nil {
			return out, err
		}
		conn, err := pgx.Connect(ctx, r.pgURL)
		if err != nil {
			st.Close()
			return out, err
		}
		defer func() {
			st.Close()
			conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(context.Background())
		}()
		load := func(from, to int) error {
			if err := pgRevocations(ctx, conn, schema, from, to); err != nil {
				return err
			}
			_, err := conn.Exec(ctx, "ANALYZE "+pgx.Identifier{schema, "blocks"}.Sanitize())
			return err
		}
		cs, err := r.revocationCurves(ctx, Postgres, st, load, fedNotify, max(r.opts.Max, r.opts.NotifyMax))
		if len(cs) == 2 {
			cs[1].Note += "; MaxStaleness 5s, see fedNotify; query timeout 5m (the default 2s cannot read 1,000,000 rows)"
		}
		out = append(out, cs...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// revocationCurves grows st with load to each size up to top (notify
// mode alone past r.opts.Max) and measures a strict and a notify client
// made afresh at each size.
func (r *run) revocationCurves(ctx context.Context, series string, st store.Store, load func(from, to int) error, notify agenttrust.NotifyConfig, top int) ([]Curve, error) {
	strict := Curve{Dimension: Revocations, Series: series}
	view := Curve{Dimension: Revocations, Series: series + "-notify", Note: "load = agenttrust.New reading the view, until a check finds it fresh"}
	var loads []Point
	have, spent := 0, time.Duration(0)
	strictOn, viewOn := true, true
	for _, n := range sizes(top) {
		if est, ok := r.budget(loads, n); !ok {
			note := r.note(Revocations, series, "stopped at %d: loading %d revocations would take about %s more (budget %s)", have, n, est.Round(time.Second), r.opts.LoadBudget)
			if strictOn {
				strict.Note = note
			}
			view.Note += "; " + note
			break
		}
		t0 := time.Now()
		if err := load(have, n); err != nil {
			return []Curve{strict, view}, fmt.Errorf("%s: load %d revocations: %w", series, n, err)
		}
		spent += time.Since(t0)
		have = n
		loads = append(loads, Point{N: n, Load: spent})
		if n > r.opts.Max {
			r.note(Revocations, series, "loaded %d revocations in %s (notify mode only past %d)", n, spent.Round(time.Millisecond), r.opts.Max)
		}
		if strictOn && n <= r.opts.Max {
			ns, fast, _, err := r.measureOn(ctx, st, nil, false)
			if err != nil {
				strict.Note, strictOn = r.note(Revocations, strict.Series, "stopped at %d: %v", n, err), false
			} else {
				pt := Point{N: n, NsPerOp: ns, Fastest: fast, Load: spent}
				r.row(Revocations, strict.Series, pt)
				strict.Points = append(strict.Points, pt)
			}
		}
		if viewOn {
			ns, fast, read, err := r.measureOn(ctx, st, []agenttrust.Option{agenttrust.WithNotify(notify)}, true)
			if err != nil {
				view.Note, viewOn = view.Note+"; "+r.note(Revocations, view.Series, "stopped at %d: %v", n, err), false
			} else {
				pt := Point{N: n, NsPerOp: ns, Fastest: fast, Load: read}
				r.row(Revocations, view.Series, pt)
				view.Points = append(view.Points, pt)
			}
		}
		if !strictOn && !viewOn {
			break
		}
	}
	return []Curve{strict, view}, nil
}

// measureOn makes a client over st with opts and the base policy, and
// measures the request. made is how long New took and, in notify mode,
// until the view was fresh: a view read whole by New can be older than
// MaxStaleness when New returns, and checks deny (fail closed) until the
// change feed confirms it.
func (r *run) measureOn(ctx context.Context, st store.Store, opts []agenttrust.Option, notify bool) (median, fastest float64, made time.Duration, err error) {
	t0 := time.Now()
	cl, err := agenttrust.New(st, append([]agenttrust.Option{agenttrust.WithPolicy(basePolicy())}, opts...)...)
	if err != nil {
		return 0, 0, time.Since(t0), err
	}
	defer cl.Close()
	for notify && time.Since(t0) < freshWait {
		d, err := cl.Check(ctx, request())
		if d.Allowed() || !errors.Is(err, agenttrust.ErrStoreUnavailable) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	made = time.Since(t0)
	if notify {
		// Right after New the client reads the whole view once more in
		// the background (the first poll of a store without a feed, the
		// resync of one with a feed): wait that out, so the figures are
		// those of the steady state.
		time.Sleep(min(2*made, freshWait))
	}
	median, fastest, err = measure(ctx, cl, request(), r.t)
	return median, fastest, made, err
}

// freshWait bounds how long a notify client may take to become fresh.
const freshWait = time.Minute
