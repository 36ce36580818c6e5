package cli

import (
	"io"
	"sync"
	"time"
)

// DefaultLogDelay is how long a log line may wait in a LogBuffer.
const DefaultLogDelay = 10 * time.Millisecond

// logBufferSize is how many bytes a LogBuffer holds before it writes them
// at once.
const logBufferSize = 64 << 10

// LogBuffer gathers the lines written to it and writes them to the
// underlying writer together, at most delay after the first of them or
// once 64 KiB are waiting: the server's access log is a line per request,
// and a write system call per line cost about a tenth of a served check.
// A line is never cut, and lines keep their order. Lines still waiting
// when the process dies are lost, as a log collector's would be; the
// audit trail, not the log, records decisions. Close writes what waits.
//
// A LogBuffer is safe for concurrent use.
type LogBuffer struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	delay  time.Duration
	timer  *time.Timer
	armed  bool
	closed bool
}

// NewLogBuffer returns a LogBuffer writing to w, holding a line at most
// delay (DefaultLogDelay when 0).
func NewLogBuffer(w io.Writer, delay time.Duration) *LogBuffer {
	if delay <= 0 {
		delay = DefaultLogDelay
	}
	b := &LogBuffer{w: w, delay: delay}
	b.timer = time.AfterFunc(time.Hour, b.Flush)
	b.timer.Stop()
	return b
}

// Write queues p, which should hold whole lines. Its error is always nil
// before Close; an error writing the underlying writer is dropped, as a
// log line that cannot be written has nowhere to go.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logBufferSize {
		b.flushLocked()
	} else if !b.armed {
		b.armed = true
		b.timer.Reset(b.delay)
	}
	return len(p), nil
}

// WriteNow writes what waits, then p, before it returns: for text that
// must not wait, such as the first admin key.
func (b *LogBuffer) WriteNow(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	return b.w.Write(p)
}

// Flush writes what waits.
func (b *LogBuffer) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *LogBuffer) flushLocked() {
	if b.armed {
		b.timer.Stop()
		b.armed = false
	}
	if len(b.buf) == 0 {
		return
	}
	_, _ = b.w.Write(b.buf)
	if cap(b.buf) > 4*logBufferSize {
		b.buf = nil // one burst does not keep a large buffer
	} else {
		b.buf = b.buf[:0]
	}
}

// Close writes what waits; later writes go straight to the underlying
// writer.
func (b *LogBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	b.closed = true
	return nil
}

// nowWriter writes through a LogBuffer's WriteNow.
type nowWriter struct{ b *LogBuffer }

func (w nowWriter) Write(p []byte) (int, error) { return w.b.WriteNow(p) }

// Immediate returns a writer whose writes reach the underlying writer
// before they return, after what waits in b.
func (b *LogBuffer) Immediate() io.Writer { return nowWriter{b} }
