package prefetch

import (
	"bytes"
	"testing"
	"unsafe"
)

// A prefetch is a hint: whatever the address, length and alignment, the
// memory reads the same after it, and nothing faults.
func TestForWriteChangesNothing(t *testing.T) {
	buf := make([]byte, 4*LineSize+7)
	for i := range buf {
		buf[i] = byte(i)
	}
	want := bytes.Clone(buf)
	for off := 0; off < 9; off++ {
		for _, n := range []uintptr{0, 1, 63, 64, 65, uintptr(len(buf) - off)} {
			ForWrite(unsafe.Pointer(&buf[off]), n)
		}
	}
	if !bytes.Equal(buf, want) {
		t.Fatal("ForWrite changed memory")
	}
	// Beyond a slice's end and at nil: still no fault.
	ForWrite(unsafe.Add(unsafe.Pointer(unsafe.SliceData(buf)), len(buf)), 1<<12)
	ForWrite(nil, 2*LineSize)
}

func BenchmarkForWrite(b *testing.B) {
	buf := make([]byte, 256)
	p := unsafe.Pointer(&buf[0])
	b.Logf("available: %v", Available())
	for b.Loop() {
		ForWrite(p, 256)
	}
}
