package cache

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

func TestGetPut(t *testing.T) {
	c := New[string, int](4, 1<<20)
	if _, ok := c.Get("a"); ok {
		t.Fatal("Get on an empty cache found a value")
	}
	c.Put("a", 1, 1)
	c.Put("b", 2, 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %v, %v; want 1, true", v, ok)
	}
	c.Put("a", 3, 10)
	if v, _ := c.Get("a"); v != 3 {
		t.Fatalf("Get(a) after replace = %v, want 3", v)
	}
	if c.Len() != 2 || c.Bytes() != 11+2*EntryOverhead {
		t.Fatalf("Len, Bytes = %d, %d; want 2, %d", c.Len(), c.Bytes(), 11+2*EntryOverhead)
	}
	c.Delete("a")
	c.Delete("missing")
	if _, ok := c.Get("a"); ok || c.Len() != 1 || c.Bytes() != 1+EntryOverhead {
		t.Fatalf("after Delete: found=%v Len=%d Bytes=%d", ok, c.Len(), c.Bytes())
	}
}

func TestEntryBound(t *testing.T) {
	const max = 100
	c := New[int, int](max, 1<<30)
	for i := range 10 * max {
		c.Put(i, i, 8)
		if c.Len() > max {
			t.Fatalf("after %d puts Len = %d, over the bound %d", i+1, c.Len(), max)
		}
	}
	if c.Len() != max {
		t.Fatalf("Len = %d, want %d (a full cache stays full)", c.Len(), max)
	}
	// Every entry still cached is reachable and the ring has no more slots
	// than the bound.
	if len(c.ring) > max {
		t.Fatalf("ring has %d slots, bound %d", len(c.ring), max)
	}
}

func TestByteBound(t *testing.T) {
	const maxBytes = 10 * (1000 + EntryOverhead)
	c := New[int, []byte](1<<20, maxBytes)
	for i := range 1000 {
		size := 1 + (i*7919)%2000 // varied sizes
		c.Put(i, make([]byte, size), int64(size))
		if c.Bytes() > maxBytes {
			t.Fatalf("after %d puts Bytes = %d, over the bound %d", i+1, c.Bytes(), maxBytes)
		}
	}
	if c.Put(-1, nil, maxBytes) {
		t.Fatal("Put of an entry larger than the byte bound cached it")
	}
	if _, ok := c.Get(-1); ok {
		t.Fatal("an entry larger than the byte bound is cached")
	}
}

// A key read between puts survives a flood of one-off keys: the hand
// clears its mark and passes it over.
func TestSecondChance(t *testing.T) {
	c := New[string, int](64, 1<<30)
	c.Put("hot", 1, 0)
	for i := range 10_000 {
		if _, ok := c.Get("hot"); !ok {
			t.Fatalf("hot key evicted after %d one-off puts", i)
		}
		c.Put("cold"+strconv.Itoa(i), i, 0)
	}
}

func TestSumsAfterChurn(t *testing.T) {
	c := New[int, int](50, 50*(EntryOverhead+64))
	for i := range 5000 {
		c.Put(i%173, i, int64(i%64))
		if i%3 == 0 {
			c.Delete((i * 31) % 173)
		}
		c.Get(i % 11)
	}
	var n int
	var bytes int64
	for _, e := range c.ring {
		if e != nil {
			n++
			bytes += e.cost
			if v, ok := c.Get(e.key); !ok || v != e.val {
				t.Fatalf("ring entry %d not in the map", e.key)
			}
		}
	}
	if n != c.Len() || bytes != c.Bytes() {
		t.Fatalf("ring holds %d entries, %d bytes; counters say %d, %d", n, bytes, c.Len(), c.Bytes())
	}
	count := 0
	c.m.Range(func(any, any) bool { count++; return true })
	if count != n {
		t.Fatalf("map holds %d entries, ring %d", count, n)
	}
}

func TestConcurrent(t *testing.T) {
	c := New[string, int](128, 128*(EntryOverhead+16))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20_000 {
				k := fmt.Sprint(g, "-", i%300)
				if v, ok := c.Get(k); ok && v != i%300 {
					t.Errorf("Get(%s) = %d, want %d", k, v, i%300)
					return
				}
				c.Put(k, i%300, 16)
				if i%7 == 0 {
					c.Delete(k)
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 128 || c.Bytes() > 128*(EntryOverhead+16) {
		t.Fatalf("Len, Bytes = %d, %d; over the bounds", c.Len(), c.Bytes())
	}
}

// The heap a full cache holds stays put however many distinct keys pass
// through it.
func TestMemoryFlat(t *testing.T) {
	c := New[string, []byte](1000, 1<<20)
	fill := func(from, to int) {
		for i := from; i < to; i++ {
			k := fmt.Sprintf("key-%08d-%0100d", i, i)
			c.Put(k, make([]byte, 512), int64(len(k)+512))
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	fill(0, 10_000)
	before := heap()
	fill(10_000, 110_000)
	after := heap()
	if after > before+4<<20 {
		t.Fatalf("heap grew from %d to %d bytes over 100,000 distinct keys", before, after)
	}
	runtime.KeepAlive(c)
}

func TestNewPanicsOnBadBounds(t *testing.T) {
	for _, b := range [][2]int64{{0, 1}, {1, 0}, {-1, 5}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%d, %d) did not panic", b[0], b[1])
				}
			}()
			New[int, int](int(b[0]), b[1])
		}()
	}
}

func BenchmarkGetHit(b *testing.B) {
	c := New[string, int](1024, 1<<20)
	k := "att_" + string(make([]byte, 300))
	c.Put(k, 1, int64(len(k)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Get(k); !ok {
				b.Fatal("miss")
			}
		}
	})
}

func BenchmarkPutDistinct(b *testing.B) {
	c := New[int, int](1024, 1<<20)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Put(i, i, 8)
		i++
	}
}
