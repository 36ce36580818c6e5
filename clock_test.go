package agenttrust

import (
	"testing"
	"testing/synctest"
	"time"
)

// The default clock keeps to the wall clock: within a second of it, never
// going back, and reading it afresh once a second.
func TestSystemClockFollowsWallClock(t *testing.T) {
	c := newSystemClock()
	prev := c.Now()
	for range 1000 {
		got, wall := c.Now(), time.Now()
		if got.Before(prev) {
			t.Fatalf("went back: %v after %v", got, prev)
		}
		if d := wall.Sub(got); d < 0 || d > reanchorAfter {
			t.Fatalf("clock %v, wall %v", got, wall)
		}
		prev = got
	}
}

// In a synctest bubble the clock runs on the bubble's time and re-reads
// the wall clock after reanchorAfter.
func TestSystemClockReanchors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSystemClock()
		first := c.Now()
		a := c.anchor.Load()
		time.Sleep(reanchorAfter / 2)
		if got := c.Now(); !got.Equal(first.Add(reanchorAfter/2)) || c.anchor.Load() != a {
			t.Fatalf("half a second on: %v (anchor changed: %v)", got, c.anchor.Load() != a)
		}
		time.Sleep(reanchorAfter)
		if got := c.Now(); !got.Equal(time.Now()) || c.anchor.Load() == a {
			t.Fatalf("after reanchorAfter: %v, want %v from a new anchor", got, time.Now())
		}
	})
}
