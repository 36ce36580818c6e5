package agenttrust_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/entropy"
	"github.com/agenttrust/agenttrust/store/memory"
)

// Source modes of breakingReader.
const (
	honest = iota
	zeros
	oneByte  // 'A' repeated
	noBytes  // (0, nil) for ever
	gaveUpAt = 10_000
)

// breakingReader is crypto/rand until it is broken, then a source that
// reports success while it returns zeros, one byte repeated, or nothing.
// Answering (0, nil), it gives up with an error after gaveUpAt reads, so
// a reader that loops on it (io.ReadFull) ends rather than spin for ever.
type breakingReader struct {
	mode  atomic.Int32
	empty atomic.Int64
}

func (r *breakingReader) Read(p []byte) (int, error) {
	switch r.mode.Load() {
	case zeros:
		clear(p)
		return len(p), nil
	case oneByte:
		for i := range p {
			p[i] = 'A'
		}
		return len(p), nil
	case noBytes:
		if r.empty.Add(1) >= gaveUpAt {
			return 0, io.ErrUnexpectedEOF
		}
		return 0, nil
	}
	return rand.Read(p)
}

// TestAttackPredictableRandom: a random source injected with WithRandom
// that breaks (a zeroed buffer, a stub that fills nothing, one that
// repeats a byte) still reports success to io.ReadFull. Everything read
// from it was used as it came: a client started on it made an all-zero
// master key and Ed25519 seed (anyone could then mint its tokens and sign
// its JWTs), CreateKey handed out "atk_000…", and every token and
// approval id was the same guessable one; a source answering (0, nil)
// hung the caller for ever. Each must fail closed, with an error naming
// the broken source, and make nothing.
func TestAttackPredictableRandom(t *testing.T) {
	ctx := context.Background()
	atNew := func(mode int32, want error) func(t *testing.T) {
		return func(t *testing.T) {
			r := new(breakingReader)
			r.mode.Store(mode)
			c, err := agenttrust.New(memory.New(), agenttrust.WithRandom(r))
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, agenttrust.ErrInvalidConfig) || !errors.Is(err, want) {
				t.Fatalf("New on a broken source: err = %v, want %v and %v", err, agenttrust.ErrInvalidConfig, want)
			}
			if n := r.empty.Load(); n >= gaveUpAt {
				t.Errorf("read %d times from a source returning nothing", n)
			}
		}
	}
	// later builds a client on an honest source, breaks it, and runs use.
	later := func(mode int32, want error, use func(t *testing.T, f *fixture, key string) (made string, err error)) func(t *testing.T) {
		return func(t *testing.T) {
			r := new(breakingReader)
			f := newFixture(t, paymentsPolicy, agenttrust.WithRandom(r))
			key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
			if err != nil {
				t.Fatal(err)
			}
			before, _ := f.c.ListKeys(ctx)
			r.mode.Store(mode)
			made, err := use(t, f, key)
			if !errors.Is(err, want) {
				t.Errorf("err = %v, want %v", err, want)
			}
			if made != "" {
				t.Errorf("made %q from a broken source", made)
			}
			if after, _ := f.c.ListKeys(ctx); len(after) != len(before) {
				t.Errorf("keys: %d before, %d after", len(before), len(after))
			}
			if n := r.empty.Load(); n >= gaveUpAt {
				t.Errorf("read %d times from a source returning nothing", n)
			}
		}
	}
	createKey := func(_ *testing.T, f *fixture, _ string) (string, error) {
		s, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
		return s, err
	}
	exchange := func(_ *testing.T, f *fixture, key string) (string, error) {
		return f.c.Exchange(ctx, key)
	}
	exchangeJWT := func(_ *testing.T, f *fixture, key string) (string, error) {
		return f.c.ExchangeJWT(ctx, key, "agenttrust")
	}
	approval := func(t *testing.T, f *fixture, key string) (string, error) {
		d, err := f.c.Check(ctx, agenttrust.Request{Credential: key, Tool: "payments.charge", Attributes: map[string]any{"amount": 100}})
		if d.Effect != agenttrust.Deny {
			t.Errorf("effect = %v, want deny", d.Effect)
		}
		return d.ApprovalID, err
	}
	cases := map[string]func(t *testing.T){
		"New, zeros":                     atNew(zeros, entropy.ErrConstant),
		"New, one byte repeated":         atNew(oneByte, entropy.ErrConstant),
		"New, no bytes":                  atNew(noBytes, entropy.ErrNoProgress),
		"CreateKey, zeros":               later(zeros, entropy.ErrConstant, createKey),
		"CreateKey, one byte repeated":   later(oneByte, entropy.ErrConstant, createKey),
		"CreateKey, no bytes":            later(noBytes, entropy.ErrNoProgress, createKey),
		"Exchange, zeros":                later(zeros, entropy.ErrConstant, exchange),
		"Exchange, no bytes":             later(noBytes, entropy.ErrNoProgress, exchange),
		"ExchangeJWT, zeros":             later(zeros, entropy.ErrConstant, exchangeJWT),
		"approval id, zeros":             later(zeros, entropy.ErrConstant, approval),
		"approval id, one byte repeated": later(oneByte, entropy.ErrConstant, approval),
	}
	for name, run := range cases {
		t.Run(name, run)
	}
	// The control: an honest source makes all of them.
	t.Run("honest", func(t *testing.T) {
		f := newFixture(t, paymentsPolicy, agenttrust.WithRandom(new(breakingReader)))
		key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
		if err != nil || !strings.HasPrefix(key, agenttrust.KeyPrefix) {
			t.Fatalf("CreateKey: %q, %v", key, err)
		}
		if tok, err := f.c.Exchange(ctx, key); err != nil || tok == "" {
			t.Fatalf("Exchange: %v", err)
		}
	})
}
