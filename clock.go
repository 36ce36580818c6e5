package agenttrust

import "time"

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
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
