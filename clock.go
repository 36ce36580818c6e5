package agenttrust

import (
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/agenttrust/agenttrust/internal/errs"
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

// maxClockUnix bounds, in Unix seconds either side of 1970, the times a
// record can hold: its time is kept in Unix nanoseconds, an int64
// (1677-2262).
const maxClockUnix = math.MaxInt64/int64(time.Second) - 1

// now reads the client's clock for a call that stamps what it decides
// (see readClock).
func (c *Client) now() (time.Time, error) { return readClock(c.clock) }

// readClock reads clk. A clock that panics, or tells a time no record
// can hold (the zero time of a clock never set, which would also make
// every expired credential current again), fails the read with an error
// matching ErrInvalidConfig (errs.Panicked); t is then the time
// package's, for the record of the refusal.
func readClock(clk clock) (t time.Time, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, err = time.Now(), fmt.Errorf("%w: the clock panicked with %s", errs.Panicked, panicText(p))
		}
	}()
	t = clk.Now()
	if !clockInRange(t) {
		return time.Now(), fmt.Errorf("%w: the clock told %s, a time no record can hold", errs.Panicked, t.Format(time.RFC3339))
	}
	return t, nil
}

// clockInRange reports whether t is a time a record can hold.
func clockInRange(t time.Time) bool {
	u := t.Unix()
	return -maxClockUnix <= u && u <= maxClockUnix
}

// recoveringReader is the random source a client reads (WithRandom's,
// or crypto/rand's): a panic of the source is a failed read, with an
// error matching ErrInvalidConfig (errs.Panicked), so whatever needed
// the bytes (an id, a key secret, a token, a hop) fails as it does
// when the source returns an error, rather than panic in the caller.
type recoveringReader struct{ r io.Reader }

func (r recoveringReader) Read(p []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("%w: the random source panicked with %s", errs.Panicked, panicText(v))
		}
	}()
	return r.r.Read(p)
}
