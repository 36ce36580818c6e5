package memory

import (
	"context"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

var _ store.ClusterLimiter = (*Store)(nil)

// rates holds the TAT of every (tenant, limit, key) of store.ClusterLimiter,
// in nanoseconds since the Unix epoch, under one mutex: a take is a map
// lookup and a store, far shorter than anything that would contend on it.
// Nodes sharing a memory store are goroutines of one process.
type rates struct {
	mu  sync.Mutex
	tat map[rateKey]int64
}

type rateKey struct{ tenant, limit, key string }

// TakeRate implements store.ClusterLimiter.
func (s *Store) TakeRate(ctx context.Context, r store.RateTake) (bool, error) {
	const op = "take rate"
	if err := s.ready(ctx, op); err != nil {
		return false, err
	}
	if err := r.Validate(); err != nil {
		return false, err
	}
	now, interval := r.Now.UnixNano(), int64(r.Interval)
	k := rateKey{r.Tenant, r.Limit, r.Key}
	s.rates.mu.Lock()
	defer s.rates.mu.Unlock()
	tat := max(s.rates.tat[k], now)
	if tat-now > int64(r.Burst-1)*interval {
		return false, nil
	}
	if s.rates.tat == nil {
		s.rates.tat = map[rateKey]int64{}
	}
	s.rates.tat[k] = tat + interval
	return true, nil
}

// PruneRates implements store.ClusterLimiter.
func (s *Store) PruneRates(ctx context.Context, tenant string, now time.Time) (int, error) {
	const op = "prune rates"
	if err := s.ready(ctx, op); err != nil {
		return 0, err
	}
	n, cut := 0, now.UnixNano()
	s.rates.mu.Lock()
	defer s.rates.mu.Unlock()
	for k, tat := range s.rates.tat {
		if k.tenant == tenant && tat <= cut {
			delete(s.rates.tat, k)
			n++
		}
	}
	return n, nil
}
