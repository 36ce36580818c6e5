package scale

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/agenttrust/agenttrust"
)

// timing says how long one timed run lasts and how many runs give the
// median.
type timing struct {
	run  time.Duration
	runs int
}

// measure returns the median and the fastest ns per Check of req over
// t.runs runs of about t.run each. On a shared machine other processes
// only ever add time, so the fastest run is the steadier figure; both
// are reported. The first check must allow: a deny or an error is another
// path, and timing it would measure the wrong thing.
func measure(ctx context.Context, c *agenttrust.Client, req agenttrust.Request, t timing) (median, fastest float64, err error) {
	d, err := c.Check(ctx, req)
	if err != nil || !d.Allowed() {
		return 0, 0, fmt.Errorf("the measured request is not allowed: %v (%s), %v", d.Effect, d.Reason, err)
	}
	loop := func(n int) (time.Duration, error) {
		start := time.Now()
		for range n {
			if d, err := c.Check(ctx, req); err != nil || !d.Allowed() {
				return 0, fmt.Errorf("check %v (%s), %v", d.Effect, d.Reason, err)
			}
		}
		return time.Since(start), nil
	}
	// Grow n until one loop lasts a tenth of a run, then scale it up.
	n := 1
	for {
		el, err := loop(n)
		if err != nil {
			return 0, 0, err
		}
		if el >= t.run/10 || n >= 1<<30 {
			n = max(1, int(float64(n)*float64(t.run)/float64(max(el, 1))))
			break
		}
		n *= 10
	}
	ns := make([]float64, 0, t.runs)
	for range t.runs {
		el, err := loop(n)
		if err != nil {
			return 0, 0, err
		}
		ns = append(ns, float64(el.Nanoseconds())/float64(n))
	}
	slices.Sort(ns)
	return ns[len(ns)/2], ns[0], nil
}
