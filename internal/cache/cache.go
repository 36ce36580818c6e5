// Package cache is a concurrent map bounded in entries and in bytes, for
// whatever an attacker can fill: verified credentials keyed by their text,
// tenants keyed by credential hash, rate-limit and breaker state keyed by
// agent and tool. When a bound would be crossed it evicts by CLOCK
// (second chance): an entry read since the hand last passed survives one
// more round, so a flood of one-off keys evicts itself before the entries
// in use.
//
// Reads take no lock (a sync.Map load and, at most, one atomic store);
// writes are serialised by a mutex and cost O(1) amortised.
package cache

import (
	"sync"
	"sync/atomic"
)

// EntryOverhead is the bookkeeping one entry costs beyond the bytes its
// owner declares: the entry itself, its slot and the map's node. Put adds
// it to every cost.
const EntryOverhead = 160

// Cache maps K to V within its bounds. The zero Cache is not usable: build
// one with New. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	m sync.Map // K -> *entry[K, V]

	mu       sync.Mutex
	ring     []*entry[K, V] // CLOCK slots; nil when free
	free     []int          // free slots below len(ring)
	hand     int
	n        int
	bytes    int64
	maxN     int
	maxBytes int64
}

type entry[K comparable, V any] struct {
	key  K
	val  V
	cost int64
	slot int
	ref  atomic.Bool // read since the hand last passed
}

// New returns a cache holding at most maxEntries entries whose costs sum
// to at most maxBytes. Both must be positive.
func New[K comparable, V any](maxEntries int, maxBytes int64) *Cache[K, V] {
	if maxEntries < 1 || maxBytes < 1 {
		panic("cache: bounds must be positive")
	}
	return &Cache[K, V]{maxN: maxEntries, maxBytes: maxBytes}
}

// Get returns the value cached for k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	e := v.(*entry[K, V])
	if !e.ref.Load() {
		e.ref.Store(true) // written only when it changes: no shared-line traffic on hot hits
	}
	return e.val, true
}

// Put caches v for k, replacing any value cached for it, at a cost of
// cost bytes (plus EntryOverhead): the memory the key and value hold.
// It evicts as needed to stay within the bounds and reports false,
// caching nothing, when the entry alone exceeds the byte bound.
func (c *Cache[K, V]) Put(k K, v V, cost int64) bool {
	if cost < 0 {
		cost = 0
	}
	cost += EntryOverhead
	if cost > c.maxBytes {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m.Load(k); ok {
		c.remove(old.(*entry[K, V]))
	}
	for c.n > 0 && (c.n >= c.maxN || c.bytes+cost > c.maxBytes) {
		c.evictOne()
	}
	e := &entry[K, V]{key: k, val: v, cost: cost}
	if n := len(c.free); n > 0 {
		e.slot = c.free[n-1]
		c.free = c.free[:n-1]
		c.ring[e.slot] = e
	} else {
		e.slot = len(c.ring)
		c.ring = append(c.ring, e)
	}
	c.n++
	c.bytes += cost
	c.m.Store(k, e)
	return true
}

// Delete removes k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m.Load(k); ok {
		c.remove(old.(*entry[K, V]))
	}
}

// Len reports how many entries are cached.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Bytes reports the summed cost of the cached entries.
func (c *Cache[K, V]) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// evictOne advances the hand to the first entry not read since its last
// pass and removes it. The caller holds mu and c.n > 0, so it ends
// within two turns of the ring.
func (c *Cache[K, V]) evictOne() {
	for {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		e := c.ring[c.hand]
		c.hand++
		if e == nil {
			continue
		}
		if e.ref.Load() {
			e.ref.Store(false)
			continue
		}
		c.remove(e)
		return
	}
}

// remove drops e from the map and its slot. The caller holds mu.
func (c *Cache[K, V]) remove(e *entry[K, V]) {
	c.m.CompareAndDelete(e.key, e)
	c.ring[e.slot] = nil
	c.free = append(c.free, e.slot)
	c.n--
	c.bytes -= e.cost
}
