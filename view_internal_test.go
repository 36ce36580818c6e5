package agenttrust

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// bigView is a notify-mode view holding n revocations.
func bigView(tb testing.TB, n int) *view {
	tb.Helper()
	v, err := newView(NotifyConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	bs := make([]store.Block, n)
	for i := range bs {
		bs[i] = store.Block{ID: fmt.Sprintf("tok_%012d", i), Kind: store.Revoked}
	}
	v.replace(bs)
	return v
}

// TestViewChangeCopiesLittle: a change applied to the view (a revocation
// the feed announced, or this client's own) must not copy the whole view.
// It holds the feed, and with it the markers that keep the view fresh,
// for as long as it takes: copying a million blocks per change kept every
// check of the node denying as stale for about a second per revocation,
// and ten million for ten. The bytes it allocates are counted, not its
// time.
func TestViewChangeCopiesLittle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a view of a million blocks")
	}
	v := bigView(t, 1_000_000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const changes = 10
	for i := range changes {
		v.apply(fmt.Sprintf("agent-%d", i), store.Block{ID: fmt.Sprintf("agent-%d", i), Kind: store.Revoked}, true)
	}
	runtime.ReadMemStats(&after)
	perChange := (after.TotalAlloc - before.TotalAlloc) / changes
	if perChange > 1<<20 {
		t.Fatalf("one change to a view of a million blocks allocated %d KiB; want at most 1 MiB", perChange>>10)
	}
	for i := range changes {
		id := fmt.Sprintf("agent-%d", i)
		if b, blocked, _, ok := v.lookupNow(id); !ok || !blocked || b.ID != id {
			t.Fatalf("%s not blocked after its change: %+v %v %v", id, b, blocked, ok)
		}
	}
	v.apply("tok_000000000007", store.Block{}, false)
	if _, blocked, _, _ := v.lookupNow("tok_000000000007"); blocked {
		t.Fatal("a block removed by a change still blocks")
	}
	if _, blocked, _, _ := v.lookupNow("tok_000000000008"); !blocked {
		t.Fatal("a change removed another block")
	}
}

// lookupNow looks ids up in a view just confirmed fresh.
func (v *view) lookupNow(ids ...string) (store.Block, bool, time.Duration, bool) {
	clk := clockFunc(time.Now)
	v.confirm(v.now(clk))
	return v.lookup(clk, ids)
}

func BenchmarkViewApply(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			v := bigView(b, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				id := fmt.Sprintf("agent-%d", i%100)
				v.apply(id, store.Block{ID: id, Kind: store.Suspended}, i%2 == 0)
				i++
			}
		})
	}
}
