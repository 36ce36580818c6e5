package agenttrust

import (
	"encoding/binary"
	"io"
	"time"
)

// backoff spaces the retries of a background task whose store is down:
// the wait doubles from base with each failure in a row, up to max, and
// is jittered to between half of that and all of it, so that the many
// clients of a store that comes back do not all retry in step. The
// jitter draws on random (the client's WithRandom source); when it fails
// the wait is not jittered.
type backoff struct {
	base, max time.Duration
	random    io.Reader
}

// wait returns how long to wait after the failures-th failure in a row
// (failures >= 1).
func (b backoff) wait(failures int) time.Duration {
	d := b.base
	for i := 1; i < failures && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	var r [8]byte
	if _, err := io.ReadFull(b.random, r[:]); err != nil {
		return d
	}
	half := d / 2
	return half + time.Duration(binary.BigEndian.Uint64(r[:])%uint64(d-half+1))
}
