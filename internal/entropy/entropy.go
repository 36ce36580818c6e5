// Package entropy reads key material and ids from an injected random
// source, failing closed when the source is evidently broken.
//
// A Client, a console or a server takes its randomness as an io.Reader
// (WithRandom, console.Config.Random) so tests can replay it. Whatever
// it reads becomes a secret or an id someone must not guess: a master
// key, a JWT signing seed, an API key, a session cookie, a token id. A
// source that returns only zero bytes (a zeroed buffer, a stub), or one
// byte repeated, would make every one of them guessable while io.ReadFull
// reports success; one that keeps answering (0, nil) would hang
// io.ReadFull for ever. Read refuses both, and Reader wraps a source so
// that every read from it does: wrap an injected source once, where it
// is taken, and everything drawn from it is checked.
package entropy

import (
	"errors"
	"io"
)

// Errors. Both mean the source is broken; neither is worth a retry.
var (
	// ErrConstant: a read of MinChecked bytes or more came back as one
	// byte repeated (all zeros, say). An honest source does that once in
	// 2^(8*(n-1)) reads of n bytes: at n = 10, once in 2^72.
	ErrConstant = errors.New("agenttrust: random source returned one byte repeated (broken source)")
	// ErrNoProgress: the source returned no bytes and no error
	// maxEmptyReads times in a row.
	ErrNoProgress = errors.New("agenttrust: random source returns no bytes")
)

// MinChecked is the shortest read Read checks for a constant run:
// shorter reads (a 5-byte nonce) are too likely to repeat by chance.
const MinChecked = 10

// maxEmptyReads is how many (0, nil) answers in a row Read takes before
// it gives up, as bufio does.
const maxEmptyReads = 100

// Read fills b from r. It fails when r fails or stops making progress,
// and, for len(b) >= MinChecked, when every byte read is the same. On
// error b is cleared: nothing half-read is used. It allocates nothing.
func Read(r io.Reader, b []byte) error {
	empty := 0
	for n := 0; n < len(b); {
		m, err := r.Read(b[n:])
		if m < 0 || m > len(b)-n {
			clear(b)
			return io.ErrShortBuffer
		}
		n += m
		if n == len(b) {
			break
		}
		if err != nil {
			clear(b)
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if m == 0 {
			if empty++; empty == maxEmptyReads {
				clear(b)
				return ErrNoProgress
			}
			continue
		}
		empty = 0
	}
	if len(b) >= MinChecked && constant(b) {
		clear(b)
		return ErrConstant
	}
	return nil
}

func constant(b []byte) bool {
	for _, v := range b[1:] {
		if v != b[0] {
			return false
		}
	}
	return true
}

// Reader is a source whose every Read is [Read]: it fills p in full or
// fails, and refuses a constant run of MinChecked bytes or more. The
// zero Reader has no source; wrap one with NewReader.
type Reader struct{ r io.Reader }

// NewReader wraps r, unless it is a Reader already.
func NewReader(r io.Reader) io.Reader {
	if _, ok := r.(Reader); ok {
		return r
	}
	return Reader{r: r}
}

// Read fills p from the wrapped source, as [Read] does.
func (r Reader) Read(p []byte) (int, error) {
	if err := Read(r.r, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Zero reports whether b holds only zero bytes (or none): key material
// that is no secret, what a buffer holds when it was cleared before use
// or never filled. It reads every byte whatever it finds, so its time
// says nothing of where a secret's first non-zero byte is.
func Zero(b []byte) bool {
	var acc byte
	for _, v := range b {
		acc |= v
	}
	return acc == 0
}
