package server

import (
	"errors"
	"io"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/entropy"
	"github.com/agenttrust/agenttrust/store/memory"
)

// constantReader reports success while it fills every read with one byte.
type constantReader byte

func (b constantReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// emptyReader answers (0, nil) until it gives up after 10,000 reads.
type emptyReader struct{ n int }

func (r *emptyReader) Read([]byte) (int, error) {
	if r.n++; r.n >= 10_000 {
		return 0, io.ErrUnexpectedEOF
	}
	return 0, nil
}

// TestAttackServerAuditKeyFromBrokenRandom: without WithAuditKey the
// server draws its audit key from WithRandom. A source that breaks
// without an error made it HMAC-SHA256 of 32 zero bytes (or of one byte
// repeated): a database writer knowing that could rewrite every chain
// and recompute every hash. New must refuse such a source.
func TestAttackServerAuditKeyFromBrokenRandom(t *testing.T) {
	empty := &emptyReader{}
	for name, tc := range map[string]struct {
		r    io.Reader
		want error
	}{
		"zeros":             {constantReader(0), entropy.ErrConstant},
		"one byte repeated": {constantReader(0x5a), entropy.ErrConstant},
		"no bytes":          {empty, entropy.ErrNoProgress},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := New(memory.New(), WithRandom(tc.r))
			if s != nil {
				s.Close()
			}
			if !errors.Is(err, agenttrust.ErrInvalidConfig) || !errors.Is(err, tc.want) {
				t.Fatalf("New: err = %v, want %v and %v", err, agenttrust.ErrInvalidConfig, tc.want)
			}
		})
	}
	if empty.n >= 10_000 {
		t.Errorf("read %d times from a source returning nothing", empty.n)
	}
}
