package adk_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/middleware/adk"
)

// TestAttackNilOptionFunction: WithResource and WithAttributes of a
// function left nil (options built conditionally) must refuse every call
// with ErrInvalidConfig and a Deny, as middleware.EditRequest(nil) does,
// not panic inside the check on every tool call, taking down an agent
// whose runner does not recover; and the checker, which allows
// everything, is never asked.
func TestAttackNilOptionFunction(t *testing.T) {
	var noResource func(string, map[string]any) string
	var noAttributes func(string, map[string]any) map[string]any
	for _, tc := range []struct {
		name string
		opt  adk.Option
	}{
		{"WithResource(nil)", adk.WithResource(noResource)},
		{"WithAttributes(nil)", adk.WithAttributes(noAttributes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := false
			allowAll := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
				asked = true
				return agenttrust.Decision{Effect: agenttrust.Allow}, nil
			})
			var (
				d        agenttrust.Decision
				err      error
				panicked any
			)
			func() {
				defer func() { panicked = recover() }()
				d, err = middleware.CheckToolCall(context.Background(), allowAll, "payments.charge", []byte(`{"amount": 5}`), tc.opt)
			}()
			if panicked != nil {
				t.Fatalf("panicked: %v; want ErrInvalidConfig", panicked)
			}
			if !errors.Is(err, agenttrust.ErrInvalidConfig) || d.Effect != agenttrust.Deny || asked {
				t.Errorf("got %v, %v (checker asked: %v); want a Deny with ErrInvalidConfig", d.Effect, err, asked)
			}
		})
	}
}
