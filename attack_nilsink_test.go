package agenttrust_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store/memory"
)

// countingSink is a sink with a pointer receiver: a nil *countingSink
// is a non-nil AuditSink whose Write dereferences nil.
type countingSink struct{ n int }

func (s *countingSink) Write(_ context.Context, recs []agenttrust.AuditRecord) error {
	s.n += len(recs)
	return nil
}

// funcSink is a sink made of a function: a nil funcSink is a non-nil
// AuditSink whose Write calls nil.
type funcSink func(context.Context, []agenttrust.AuditRecord) error

func (f funcSink) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	return f(ctx, recs)
}

// A nil sink, plain or typed, is refused when the client is built: the
// flusher would otherwise panic on the first record, taking the process
// (and every decision still queued) down with it.
func TestAttackNilAuditSink(t *testing.T) {
	var typed *countingSink
	var fn funcSink
	cases := map[string]agenttrust.AuditSink{
		"nil interface": nil,
		"typed nil":     typed,
		"nil func":      fn,
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := agenttrust.New(memory.New(), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{s}}))
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("err = %v, want %v", err, agenttrust.ErrInvalidConfig)
			}
		})
	}
}

// The same holds for every other interface New is given: a nil value
// behind a non-nil interface is refused, not left to panic on first use.
func TestAttackTypedNilOptions(t *testing.T) {
	var st *memory.Store
	var engine agenttrust.PolicyEngineFunc
	var random *bytes.Reader
	var obs *nopObserver
	cases := map[string]func() (*agenttrust.Client, error){
		"store": func() (*agenttrust.Client, error) { return agenttrust.New(st) },
		"engine": func() (*agenttrust.Client, error) {
			return agenttrust.New(memory.New(), agenttrust.WithPolicyEngine(engine))
		},
		"random":   func() (*agenttrust.Client, error) { return agenttrust.New(memory.New(), agenttrust.WithRandom(random)) },
		"observer": func() (*agenttrust.Client, error) { return agenttrust.New(memory.New(), agenttrust.WithObserver(obs)) },
	}
	for name, open := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := open()
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("err = %v, want %v", err, agenttrust.ErrInvalidConfig)
			}
		})
	}
}

type nopObserver struct{}

func (*nopObserver) Check(context.Context, observe.Check) {}
func (*nopObserver) Event(context.Context, observe.Event) {}
