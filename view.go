package agenttrust

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// NotifyConfig configures notify mode; see WithNotify. Its zero value
// takes the defaults. It is a plain value, safe to share.
type NotifyConfig struct {
	// MaxStaleness bounds how old the in-memory view of revocations and
	// suspensions may be: past it, checks deny with ErrStoreUnavailable
	// until the view is confirmed fresh again. The age is read on the
	// client's clock (WithClock) and on the process's monotonic clock,
	// the greater counting. Default 250ms.
	MaxStaleness time.Duration
	// PollInterval is how often the whole view is reread when the store
	// cannot push changes or its feed is broken. Default MaxStaleness/4.
	PollInterval time.Duration
}

// viewShards is how many maps a view's blocks are split into. Lookups
// read the blocks without a lock, so a change copies what it changes:
// one shard, about a thousandth of the view, instead of the whole of it
// (a second per change at a million blocks, during which the feed's
// markers waited and every check denied as stale).
const viewShards = 1024

// blockSet is one version of a view's blocks, never changed once stored.
// A nil shard is empty.
type blockSet [viewShards]map[string]store.Block

// view is the in-memory state of notify mode.
type view struct {
	blocks  atomic.Pointer[blockSet]
	seed    maphash.Seed // spreads ids over the shards
	freshAt atomic.Int64 // unix nanos: every change committed before this is applied
	// freshMono is freshAt on the process's monotonic clock (nanoseconds
	// since base). The view's age is the greater of the two: a clock
	// stepped back (or stopped) cannot make an old view pass for fresh.
	freshMono atomic.Int64
	base      time.Time
	max       time.Duration
	poll      time.Duration

	// mu serialises the writers of blocks, each from its store read to
	// its write: a write made from an earlier read never lands after one
	// made from a later read (see settleView).
	mu      sync.Mutex
	markMu  sync.Mutex
	marks   map[string]viewInstant // marker token -> when it was sent
	stop    context.CancelFunc
	done    chan struct{}
	ready   chan struct{} // closed when the feed first syncs
	readyMu sync.Once
	polling atomic.Bool // the feed is down
}

func newView(cfg NotifyConfig) (*view, error) {
	if cfg.MaxStaleness == 0 {
		cfg.MaxStaleness = 250 * time.Millisecond
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = cfg.MaxStaleness / 4
	}
	if cfg.MaxStaleness < 0 || cfg.PollInterval <= 0 || cfg.PollInterval >= cfg.MaxStaleness {
		return nil, fmt.Errorf("%w: notify mode needs 0 < PollInterval < MaxStaleness", ErrInvalidConfig)
	}
	v := &view{base: time.Now(), max: cfg.MaxStaleness, poll: cfg.PollInterval, marks: map[string]viewInstant{}, done: make(chan struct{}), ready: make(chan struct{})}
	v.seed = maphash.MakeSeed()
	v.blocks.Store(new(blockSet))
	return v, nil
}

// shard is the index of id's shard.
func (v *view) shard(id string) int {
	return int(maphash.String(v.seed, id) % viewShards)
}

// get returns id's block in the view.
func (v *view) get(id string) (store.Block, bool) {
	b, ok := v.blocks.Load()[v.shard(id)][id]
	return b, ok
}

// viewInstant is an instant read on the client's clock and, for the
// view's age, on the process's monotonic clock.
type viewInstant struct {
	at   time.Time
	mono int64
}

// now reads both clocks.
func (v *view) now(clk clock) viewInstant {
	return viewInstant{at: clk.Now(), mono: int64(time.Since(v.base))}
}

// staleErr is the error of a lookup in a view age old, past its bound.
func (v *view) staleErr(age time.Duration) error {
	return fmt.Errorf("%w: revocation view not confirmed for %s (bound %s)", ErrStoreUnavailable, age.Truncate(time.Millisecond), v.max)
}

// lookup answers phase 2 from memory: the first blocked id, revocations
// first, and the age of the view. ok is false when the view is too old.
// The age is read on clk as the view is read, never at an instant taken
// earlier: a check may have waited long (a slow key lookup) since it
// began, and its view aged meanwhile. It is also read on the monotonic
// clock, and the greater age counts: clk going back, or standing still,
// does not keep an unconfirmed view fresh.
func (v *view) lookup(clk clock, ids []string) (b store.Block, blocked bool, age time.Duration, ok bool) {
	fresh, freshMono := v.freshAt.Load(), v.freshMono.Load()
	now := v.now(clk)
	age = max(time.Duration(now.at.UnixNano()-fresh), time.Duration(now.mono-freshMono))
	if age > v.max || fresh == 0 {
		return store.Block{}, false, age, false
	}
	set := v.blocks.Load()
	var first store.Block
	for _, id := range ids {
		b, found := set[v.shard(id)][id]
		if !found {
			continue
		}
		if b.Kind == store.Revoked {
			return b, true, age, true
		}
		if !blocked {
			first, blocked = b, true
		}
	}
	return first, blocked, age, true
}

// replace installs a full reread of the tenant's blocks. The caller
// holds v.mu, taken before the read.
func (v *view) replace(bs []store.Block) {
	set := new(blockSet)
	for _, b := range bs {
		m := &set[v.shard(b.ID)]
		if *m == nil {
			*m = map[string]store.Block{}
		}
		if old, ok := (*m)[b.ID]; ok && old.Kind == store.Revoked {
			continue // a revocation outranks a suspension of the same id
		}
		(*m)[b.ID] = b
	}
	v.blocks.Store(set)
}

// apply updates one id from a fresh store read. The caller holds v.mu,
// taken before the read.
func (v *view) apply(id string, b store.Block, present bool) {
	set := *v.blocks.Load()
	i := v.shard(id)
	m := make(map[string]store.Block, len(set[i])+1)
	maps.Copy(m, set[i])
	if present {
		m[id] = b
	} else {
		delete(m, id)
	}
	set[i] = m
	v.blocks.Store(&set)
}

// confirm records that every change committed before t is applied.
func (v *view) confirm(t viewInstant) {
	advance(&v.freshMono, t.mono)
	advance(&v.freshAt, t.at.UnixNano())
}

// advance sets a to n unless it already holds more.
func advance(a *atomic.Int64, n int64) {
	for {
		old := a.Load()
		if n <= old || a.CompareAndSwap(old, n) {
			return
		}
	}
}

// startView runs notify mode: it reads the whole view once (so New returns
// with a fresh view), then keeps it current.
func (c *Client) startView(ctx context.Context) error {
	v := c.view
	t0 := v.now(c.clock)
	if err := c.rereadView(ctx); err != nil {
		return err
	}
	v.confirm(t0)
	runCtx, cancel := context.WithCancel(context.Background())
	v.stop = cancel
	go c.runView(runCtx)
	if _, ok := c.store.(store.Watcher); ok {
		// Wait for the feed to be listening, so that nothing written after
		// New returns can be missed; if it does not come up, polling keeps
		// the view fresh meanwhile.
		t := time.NewTimer(2 * time.Second)
		defer t.Stop()
		select {
		case <-v.ready:
		case <-t.C:
			c.log.Warn("agenttrust: change feed not up after 2s; polling until it is")
		case <-ctx.Done():
		}
	}
	return nil
}

func (c *Client) rereadView(ctx context.Context) error {
	c.view.mu.Lock()
	defer c.view.mu.Unlock()
	bs, err := c.store.Blocks(ctx, c.tenant)
	if err != nil {
		return storeErr("read revocations", err)
	}
	c.view.replace(bs)
	return nil
}

// settleView brings the view up to date with a block write this client
// has just made on id (Revoke, Suspend, Resume, the breaker), before the
// write's caller returns: its feed would tell it only later, and meanwhile
// this client's own checks would still allow what it has just stopped.
// wrote is the block written, or the zero Block for a resume. When id
// cannot be read back, a block written is applied as written (a
// revocation already in the view outranks it) and a resume is not, so the
// view errs on the side of stopping.
func (c *Client) settleView(ctx context.Context, id string, wrote store.Block) {
	v := c.view
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.max)
	b, found, err := c.store.Blocked(rctx, c.tenant, []string{id})
	cancel()
	if err != nil {
		if wrote.ID == "" {
			return
		}
		b, found = wrote, true
		if old, ok := v.get(id); ok && old.Kind == store.Revoked {
			b = old
		}
	}
	v.apply(id, b, found)
}

// runView alternates between watching the feed (with markers proving
// freshness) and, while the feed is down, polling.
func (c *Client) runView(ctx context.Context) {
	defer close(c.view.done)
	w, canWatch := c.store.(store.Watcher)
	backoff := c.view.poll
	var polls pollLog
	for ctx.Err() == nil {
		if canWatch {
			err := recovered("change feed", func() error { return c.watchView(ctx, w) })
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("agenttrust: change feed down; polling", "err", err)
		}
		c.view.polling.Store(true)
		// Poll until it is time to try the feed again.
		deadline := time.Now().Add(backoff)
		for ctx.Err() == nil && (!canWatch || time.Now().Before(deadline)) {
			polls.outcome(c.log, recovered("revocation poll", func() error { return c.pollView(ctx) }))
			sleep(ctx, c.view.poll)
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (c *Client) pollView(ctx context.Context) error {
	t0 := c.view.now(c.clock)
	qctx, cancel := context.WithTimeout(ctx, c.view.max)
	defer cancel()
	if err := c.rereadView(qctx); err != nil {
		if ctx.Err() != nil {
			return nil // closing: not a failure of the store
		}
		return err
	}
	c.view.confirm(t0)
	return nil
}

// pollLog logs a run of failed revocation polls as two lines, its first
// failure and its end, instead of one line a poll (several a second).
type pollLog struct {
	failures int
	since    time.Time
}

func (p *pollLog) outcome(log *slog.Logger, err error) {
	switch {
	case err != nil:
		p.failures++
		if p.failures == 1 {
			p.since = time.Now()
			log.Warn("agenttrust: revocation poll failed; checks deny once the view is older than MaxStaleness; logging again once a poll succeeds", "err", err)
		}
	case p.failures > 0:
		log.Info("agenttrust: revocation poll recovered", "failures", p.failures, "after", time.Since(p.since))
		p.failures = 0
	}
}

// watchView listens to the feed until it breaks. Once its first marker
// comes back (so the listener is up), it rereads the whole view, since
// changes made while it was not listening are not replayed; then it keeps
// sending markers to prove freshness.
func (c *Client) watchView(ctx context.Context, w store.Watcher) error {
	v := c.view
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	synced := make(chan struct{})
	var syncedOnce sync.Once
	errc := make(chan error, 1)
	// A panic of the store under the feed (its Watch, or a read this
	// callback makes) ends this watch like an error.
	feed := func(ch store.Change) {
		if wctx.Err() != nil {
			// This watch is over (a change could not be applied, or
			// the client closes): what its feed still delivers must
			// neither change the view nor confirm it.
			return
		}
		switch ch.Kind {
		case store.ChangeBlock:
			if ch.Tenant != c.tenant {
				return
			}
			v.mu.Lock()
			rctx, rcancel := context.WithTimeout(wctx, v.max)
			var b store.Block
			var found bool
			// Recovered here, not only around the feed: a panic must not
			// leave v.mu held, which would stop every later reread.
			err := recovered("revocation lookup", func() (err error) {
				b, found, err = c.store.Blocked(rctx, c.tenant, []string{ch.ID})
				return err
			})
			rcancel()
			if err != nil {
				v.mu.Unlock()
				// Without this change the view cannot be trusted;
				// markers stop confirming until a reread succeeds.
				cancel()
				return
			}
			v.apply(ch.ID, b, found)
			v.mu.Unlock()
		case store.ChangePolicy:
			if ch.Tenant == c.tenant {
				if err := c.reloadStoredPolicy(wctx); err != nil {
					c.log.Error("agenttrust: reload policy after change", "err", err)
					if errors.Is(err, ErrStoreUnavailable) {
						// The live policy is replaced and the feed
						// will not say so again: end this watch, so
						// that polling reloads the policy until it
						// holds the stored one. (A stored document
						// that does not parse leaves the live policy
						// alone, as documented.)
						cancel()
					}
				}
			}
		case store.ChangeMark:
			v.markMu.Lock()
			sent, ok := v.marks[ch.ID]
			delete(v.marks, ch.ID)
			v.markMu.Unlock()
			if !ok {
				return
			}
			select {
			case <-synced:
				v.confirm(sent)
			default:
				syncedOnce.Do(func() {
					// The listener is up: reread what may have changed
					// before it was, then trust the feed.
					if err := c.rereadView(wctx); err != nil {
						cancel()
						return
					}
					if err := c.reloadStoredPolicy(wctx); err != nil {
						c.log.Error("agenttrust: reload policy", "err", err)
						if errors.Is(err, ErrStoreUnavailable) {
							cancel() // a change made before the feed was up is not replayed
							return
						}
					}
					v.confirm(sent)
					close(synced)
					v.readyMu.Do(func() { close(v.ready) })
				})
			}
		}
	}
	go func() {
		errc <- recovered("change feed", func() error { return w.Watch(wctx, feed) })
	}()
	tick := time.NewTicker(v.poll)
	defer tick.Stop()
	first := true
	for {
		token, err := c.newID("mark_")
		if err != nil {
			return err
		}
		sent := v.now(c.clock)
		v.markMu.Lock()
		if len(v.marks) > 1000 {
			clear(v.marks) // markers lost with a broken feed
		}
		v.marks[token] = sent
		v.markMu.Unlock()
		mctx, mcancel := context.WithTimeout(wctx, v.max)
		err = w.Mark(mctx, token)
		mcancel()
		if err != nil {
			cancel()
			return errors.Join(err, <-errc)
		}
		select {
		case <-synced:
			v.polling.Store(false)
		default:
		}
		if first {
			// Until a marker returns, resend quickly: the watch may not
			// have been listening when the last one was sent.
			select {
			case <-synced:
				first = false
			case <-time.After(time.Millisecond):
				continue
			case err := <-errc:
				return err
			}
		}
		select {
		case <-tick.C:
		case err := <-errc:
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (c *Client) stopView() {
	if c.view != nil && c.view.stop != nil {
		c.view.stop()
		<-c.view.done
	}
}
