//go:build purego || !(amd64 || arm64)

package prefetch

import "unsafe"

const available = false

func forWrite(unsafe.Pointer, uintptr) {}
