package cli

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// countingWriter counts the writes that reach it.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *countingWriter) get() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.writes
}

// Many lines become one write, at most the delay after the first, in
// order; text written now comes after what waited.
func TestLogBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w countingWriter
		b := NewLogBuffer(&w, 10*time.Millisecond)
		for i := range 100 {
			fmt.Fprintf(b, "line %d\n", i)
		}
		if s, n := w.get(); n != 0 || s != "" {
			t.Fatalf("written before the delay: %d writes", n)
		}
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		s, n := w.get()
		if n != 1 || strings.Count(s, "\n") != 100 || !strings.HasPrefix(s, "line 0\n") || !strings.HasSuffix(s, "line 99\n") {
			t.Fatalf("after the delay: %d writes of %q", n, s)
		}
		fmt.Fprintf(b, "queued\n")
		fmt.Fprintf(b.Immediate(), "key\n")
		if s, _ := w.get(); !strings.HasSuffix(s, "queued\nkey\n") {
			t.Fatalf("immediate text out of order: %q", s)
		}
		fmt.Fprintf(b, "last\n")
		b.Close()
		if s, _ := w.get(); !strings.HasSuffix(s, "key\nlast\n") {
			t.Fatalf("Close left a line: %q", s)
		}
		fmt.Fprintf(b, "after\n")
		if s, _ := w.get(); !strings.HasSuffix(s, "last\nafter\n") {
			t.Fatalf("write after Close: %q", s)
		}
	})
}

// A burst past the buffer's size is written at once, not held.
func TestLogBufferFull(t *testing.T) {
	var w countingWriter
	b := NewLogBuffer(&w, time.Hour)
	defer b.Close()
	line := strings.Repeat("x", 99) + "\n"
	for range logBufferSize/len(line) + 1 {
		b.Write([]byte(line))
	}
	if s, n := w.get(); n != 1 || len(s) < logBufferSize {
		t.Fatalf("%d writes, %d bytes", n, len(s))
	}
}
