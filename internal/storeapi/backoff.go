package storeapi

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff says how often and how patiently an idempotent call is repeated
// after a transport failure or a 502, 503 or 504. The zero Backoff never
// retries.
type Backoff struct {
	// Retries is how many times a call is repeated after its first
	// attempt.
	Retries int
	// Base is the delay before the first retry (default 50ms); each retry
	// doubles it, up to Max (default 2s).
	Base, Max time.Duration
	// Jitter returns a number in [0, 1); the default is math/rand/v2. The
	// delay before retry n is drawn from [d/2, d) where d = min(Max,
	// Base<<n), so clients that failed together do not retry together.
	Jitter func() float64
}

// Delay returns the delay before retry n (from 0).
func (b Backoff) Delay(n int) time.Duration {
	base, max := b.Base, b.Max
	if base <= 0 {
		base = 50 * time.Millisecond
	}
	if max <= 0 {
		max = 2 * time.Second
	}
	if max < base {
		max = base
	}
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	j := b.Jitter
	if j == nil {
		j = rand.Float64
	}
	f := j()
	if f < 0 || f >= 1 {
		f = 0
	}
	return d/2 + time.Duration(f*float64(d/2))
}

// Wait sleeps for Delay(n) or until ctx ends, and returns ctx's error if it
// ended first.
func (b Backoff) Wait(ctx context.Context, n int) error {
	t := time.NewTimer(b.Delay(n))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
