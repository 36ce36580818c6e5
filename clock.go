package agenttrust

import (
	"sync/atomic"
	"time"
)

// clock tells the time a client stamps on what it decides and records
// (see WithClock). The default is systemClock; a function given to
// WithClock is a clockFunc.
type clock interface {
	Now() time.Time
}

// clockFunc makes a function a clock.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// systemClock is the default clock: the time package's, so a
// testing/synctest bubble's fake time reaches it.
//
// time.Now reads two clocks (wall and monotonic), which costs a check
// about a sixth of its time on a virtual machine. systemClock reads the
// wall clock once a second and, in between, adds the monotonic time
// elapsed since, one clock read: it follows a stepped wall clock within a
// second, and never goes back within one.
type systemClock struct {
	anchor atomic.Pointer[time.Time]
}

// reanchorAfter is how long systemClock trusts the monotonic clock alone.
const reanchorAfter = time.Second

func newSystemClock() *systemClock { return &systemClock{} }

func (c *systemClock) Now() time.Time {
	if a := c.anchor.Load(); a != nil {
		if d := time.Since(*a); d >= 0 && d < reanchorAfter {
			return a.Add(d)
		}
	}
	now := time.Now()
	c.anchor.Store(&now)
	return now
}
