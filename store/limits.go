package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ClusterLimiter is implemented by stores that hold rate limits for every
// node sharing them. A policy limit declared with scope "cluster" counts
// the requests of all those nodes together, through this interface; a
// policy with such a limit is refused over a store that does not
// implement it. Node-local limits never touch the store.
//
// # Semantics
//
// The algorithm is GCRA (the generic cell rate algorithm, a token bucket
// kept as one instant). For each (Tenant, Limit, Key) the store keeps a
// theoretical arrival time, TAT, in nanoseconds since the Unix epoch. A
// take r is decided on the stored TAT, a missing one reading as r.Now:
//
//	tat := max(TAT, r.Now)
//	allowed := tat - r.Now <= (r.Burst-1) * r.Interval
//	if allowed { TAT = tat + r.Interval }  // a refusal changes nothing
//
// So r.Burst takes pass at once, and then one per r.Interval; the limit
// never admits more than Burst + elapsed/Interval takes in any window.
// Interval and Burst come with each take, so a policy that changes them
// applies them to the stored TAT from its next take on.
//
// A take must be atomic: of concurrent takes, from any number of
// processes sharing the store, each sees the TAT the previous one left,
// so N takes never pass where fewer were allowed. In SQL that is one
// statement, an INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING
// that returns a row exactly when the take is allowed; in memory, a
// mutex. Without RETURNING (MySQL), INSERT ... ON DUPLICATE KEY UPDATE
// tat = IF(allowed, new TAT, tat) tells the same by its affected-row
// count: 1 inserted or 2 changed when allowed (an allowed take always
// moves the TAT on), 0 when refused. storetest's ClusterLimits cases
// check these semantics, concurrency included, and
// storetest.BenchmarkRates measures a take.
//
// A TAT at or before now holds no state: it reads as a missing one.
// PruneRates deletes such rows; a store need not delete them otherwise.
//
// Times are never read from a clock inside a store: r.Now is the caller's.
// Nodes whose clocks disagree by d share one TAT: the takes of a node
// whose clock runs behind are dated early and can leave up to d/Interval
// more takes to the others; those of a node whose clock runs ahead push
// the TAT on and refuse as many early. Keep node clocks synchronised.
type ClusterLimiter interface {
	// TakeRate takes one request under the limit r names and reports
	// whether it is allowed. r is checked with r.Validate first (an
	// invalid take is ErrInvalid and changes nothing). Errors follow the
	// store contract: ErrUnavailable when the store cannot answer, after
	// which the caller must treat the take as refused.
	TakeRate(ctx context.Context, r RateTake) (bool, error)
	// PruneRates deletes the rate state of tenant whose TAT is at or
	// before now and reports how many (limit, key) rows it deleted. It
	// changes no decision: a pruned row reads as missing, which a take
	// treats as a TAT of its Now, the same as any TAT at or before it.
	// One tenant at a time, so that it reads only that tenant's rows
	// (in SQL, a range of the primary key).
	PruneRates(ctx context.Context, tenant string, now time.Time) (int, error)
}

// RateTake is one request counted under a cluster-wide rate limit.
type RateTake struct {
	// Tenant, Limit and Key name the state: the policy limit's id in the
	// tenant, and what the limit counts apart (the root uses the agent
	// and the tool). Limit must not be empty; each must be valid UTF-8
	// without NUL, at most MaxRateKey bytes.
	Tenant, Limit, Key string
	// Interval is the time per request (the limit admits one per
	// Interval on average); it must be positive.
	Interval time.Duration
	// Burst is how many requests may pass at once; at least 1, and
	// Burst*Interval at most MaxRateWindow.
	Burst int
	// Now is the caller's clock, between 1970 and 2200.
	Now time.Time
}

// Bounds of a RateTake.
const (
	MaxRateKey    = 1024
	MaxRateWindow = 10 * 366 * 24 * time.Hour
)

var (
	minRateNow = time.Unix(0, 0)
	maxRateNow = time.Date(2200, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// Validate reports whether r is a take a ClusterLimiter accepts; the error
// wraps ErrInvalid. Within its bounds, every TAT a store computes fits an
// int64 of nanoseconds since the Unix epoch.
func (r RateTake) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("agenttrust/store: take rate %q/%q: %s: %w", r.Tenant, r.Limit, fmt.Sprintf(format, args...), ErrInvalid)
	}
	switch {
	case r.Limit == "":
		return bad("empty limit")
	case !rateText(r.Tenant) || !rateText(r.Limit) || !rateText(r.Key):
		return bad("tenant, limit and key must be valid UTF-8 without NUL, at most %d bytes", MaxRateKey)
	case r.Interval <= 0:
		return bad("interval %v is not positive", r.Interval)
	case r.Burst < 1:
		return bad("burst %d is less than 1", r.Burst)
	case r.Interval > MaxRateWindow/time.Duration(r.Burst):
		return bad("burst %d times interval %v is more than %v", r.Burst, r.Interval, MaxRateWindow)
	case r.Now.Before(minRateNow) || !r.Now.Before(maxRateNow):
		return bad("now %s is outside 1970 to 2200", r.Now.Format(time.RFC3339Nano))
	}
	return nil
}

func rateText(s string) bool {
	return len(s) <= MaxRateKey && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
