//go:build !purego

package prefetch

import "unsafe"

// available: PRFM is part of the base ARMv8 instruction set.
const available = true

//go:noescape
func forWrite(p unsafe.Pointer, n uintptr)
