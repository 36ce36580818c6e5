// Package prefetch asks the processor to fetch memory into this core's
// cache for writing, ahead of the writes.
//
// The audit queue is written by checks on one core and read by the
// flusher on another. A queue slot the flusher has read is shared
// between the two cores' caches, so the check that next fills it must
// first take it back, and the queue's unlock waits for that. A check
// that asks early for the slots the checks after it will fill lets those
// transfers happen while it works. The hint changes no memory and has no
// effect on correctness: where the processor has no such instruction,
// ForWrite does nothing.
package prefetch

import "unsafe"

// LineSize is the cache line size ForWrite steps by.
const LineSize = 64

// ForWrite hints that the n bytes at p are about to be written by this
// core. p need not point to valid memory: a prefetch never faults.
func ForWrite(p unsafe.Pointer, n uintptr) {
	if available {
		forWrite(p, n)
	}
}

// Available reports whether ForWrite issues prefetches on this processor.
func Available() bool { return available }
