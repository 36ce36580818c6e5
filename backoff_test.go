package agenttrust

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

type constReader byte

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("no randomness") }

func TestBackoffWait(t *testing.T) {
	b := backoff{base: time.Second, max: 30 * time.Second}
	for _, tc := range []struct {
		name     string
		failures int
		ceiling  time.Duration // the unjittered wait
	}{
		{"first", 1, time.Second},
		{"second", 2, 2 * time.Second},
		{"fifth", 5, 16 * time.Second},
		{"capped", 6, 30 * time.Second},
		{"long after", 1000, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.random = failReader{}
			if got := b.wait(tc.failures); got != tc.ceiling {
				t.Errorf("without randomness: %v, want %v", got, tc.ceiling)
			}
			b.random = constReader(0)
			if got := b.wait(tc.failures); got != tc.ceiling/2 {
				t.Errorf("least jitter: %v, want %v", got, tc.ceiling/2)
			}
			b.random = constReader(0xff)
			if got := b.wait(tc.failures); got < tc.ceiling/2 || got > tc.ceiling {
				t.Errorf("jittered wait %v outside [%v, %v]", got, tc.ceiling/2, tc.ceiling)
			}
			// The jitter comes from the injected source.
			b.random = bytes.NewReader([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2})
			if a, c := b.wait(tc.failures), b.wait(tc.failures); a == c {
				t.Errorf("two draws gave the same wait %v", a)
			}
		})
	}
}
