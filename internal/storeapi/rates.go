package storeapi

import (
	"context"
	"fmt"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// The cluster-wide rate limits of store.ClusterLimiter, over the wire: a
// node whose store is this client shares the limits of every other node
// of the server's store.

type (
	wireRateTake struct {
		Tenant     string    `json:"tenant"`
		Limit      string    `json:"limit"`
		Key        string    `json:"key"`
		IntervalNS int64     `json:"interval_ns"`
		Burst      int       `json:"burst"`
		Now        time.Time `json:"now"`
	}
	takeRateReq struct {
		Take wireRateTake `json:"take"`
	}
	takeRateResp struct {
		Allowed bool `json:"allowed"`
	}
	pruneRatesReq struct {
		Tenant string    `json:"tenant"`
		Now    time.Time `json:"now"`
	}
)

func toWireRateTake(r store.RateTake) wireRateTake {
	return wireRateTake{Tenant: r.Tenant, Limit: r.Limit, Key: r.Key, IntervalNS: int64(r.Interval), Burst: r.Burst, Now: utc(r.Now)}
}

func (w *wireRateTake) model() store.RateTake {
	return store.RateTake{Tenant: w.Tenant, Limit: w.Limit, Key: w.Key, Interval: time.Duration(w.IntervalNS), Burst: w.Burst, Now: w.Now}
}

// limiterOf returns the ClusterLimiter of the served store; a store that
// is not one answers as unavailable, so a node relying on it for a
// cluster-wide limit denies.
func limiterOf(st store.Store) (store.ClusterLimiter, error) {
	l, isLimiter := st.(store.ClusterLimiter)
	if !isLimiter {
		return nil, fmt.Errorf("%s the served store holds no cluster-wide rate limits: %w", prefix, store.ErrUnavailable)
	}
	return l, nil
}

func rateRoutes() []*route {
	return []*route{
		// Not idempotent: a take repeated after a lost answer takes twice,
		// which can only slow the caller down.
		op("take_rate", false, func(ctx context.Context, st store.Store, in *takeRateReq) (*takeRateResp, error) {
			l, err := limiterOf(st)
			if err != nil {
				return nil, err
			}
			allowed, err := l.TakeRate(ctx, in.Take.model())
			return &takeRateResp{Allowed: allowed}, err
		}),
		op("prune_rates", false, func(ctx context.Context, st store.Store, in *pruneRatesReq) (*pruneResp, error) {
			l, err := limiterOf(st)
			if err != nil {
				return nil, err
			}
			n, err := l.PruneRates(ctx, in.Tenant, in.Now)
			return &pruneResp{Removed: n}, err
		}),
	}
}

var _ store.ClusterLimiter = (*Client)(nil)

// TakeRate implements store.ClusterLimiter through the served store,
// which must implement it too: otherwise every take fails with
// store.ErrUnavailable.
func (c *Client) TakeRate(ctx context.Context, r store.RateTake) (bool, error) {
	if err := r.Validate(); err != nil {
		return false, err
	}
	var out takeRateResp
	if err := c.call(ctx, "take_rate", &takeRateReq{Take: toWireRateTake(r)}, &out); err != nil {
		return false, err
	}
	return out.Allowed, nil
}

// PruneRates implements store.ClusterLimiter.
func (c *Client) PruneRates(ctx context.Context, tenant string, now time.Time) (int, error) {
	var out pruneResp
	if err := c.call(ctx, "prune_rates", &pruneRatesReq{Tenant: tenant, Now: utc(now)}, &out); err != nil {
		return 0, err
	}
	return out.Removed, nil
}
