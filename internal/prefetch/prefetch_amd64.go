//go:build !purego

package prefetch

import "unsafe"

// available is a fact of the processor, read once: PREFETCHW exists
// where CPUID reports PRFCHW (AMD since K8, Intel since Broadwell).
var available = hasPrefetchW()

//go:noescape
func forWrite(p unsafe.Pointer, n uintptr)

func hasPrefetchW() bool
