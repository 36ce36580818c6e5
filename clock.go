package agenttrust

import (
	"sync/atomic"
	"time"
)

// Clock tells the time a client stamps on what it decides and records:
// decision and audit times, credential and approval expiry, revocation
// dates. Inject one with WithClock to fix those dates; the default is the
// system clock. A Clock must be safe for concurrent use.
//
// Waiting is not the Clock's job: polls, bounds and timeouts (an approval
// wait, a stuck audit sink, a stale revocation view) run on the time
// package's timers. Tests that exercise them run inside a
// testing/synctest bubble, whose fake time drives both the default clock
// and every timer, so no test sleeps on the real clock.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// systemClock is the default Clock: the time package's, so a
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
