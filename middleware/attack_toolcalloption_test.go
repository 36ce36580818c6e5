package middleware_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackToolCallOptionNil: the options of CheckToolCall (and of the
// adapters, which keep them and pass them on every call) are often built
// conditionally: a nil ToolCallOption in the list, or EditRequest of a
// function left nil. Either must refuse the call with ErrInvalidConfig
// and a Deny, as a nil checker does, not panic inside CheckToolCall on
// every tool call, which takes down an agent loop that does not recover.
func TestAttackToolCallOptionNil(t *testing.T) {
	c := newClient(t)
	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "")
	var noEdit func(*agenttrust.Request)
	args := []byte(`{"amount": 5}`)
	for _, tc := range []struct {
		name string
		call func() (agenttrust.Decision, error)
	}{
		{"CheckToolCall with a nil option", func() (agenttrust.Decision, error) {
			return middleware.CheckToolCall(ctx, c, "payments.charge", args, middleware.ResourceKey("customer"), nil)
		}},
		{"CheckToolCall with EditRequest(nil)", func() (agenttrust.Decision, error) {
			return middleware.CheckToolCall(ctx, c, "payments.charge", args, middleware.EditRequest(noEdit))
		}},
		{"CheckToolCallValue with a nil option", func() (agenttrust.Decision, error) {
			return middleware.CheckToolCallValue(ctx, c, "payments.charge", map[string]any{"amount": 5}, nil)
		}},
		{"CheckToolCallValue with EditRequest(nil)", func() (agenttrust.Decision, error) {
			return middleware.CheckToolCallValue(ctx, c, "payments.charge", map[string]any{"amount": 5}, middleware.EditRequest(noEdit))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				d        agenttrust.Decision
				err      error
				panicked any
			)
			func() {
				defer func() { panicked = recover() }()
				d, err = tc.call()
			}()
			if panicked != nil {
				t.Fatalf("panicked: %v; want ErrInvalidConfig", panicked)
			}
			if !errors.Is(err, agenttrust.ErrInvalidConfig) || !errors.Is(err, middleware.ErrDenied) || d.Effect != agenttrust.Deny {
				t.Errorf("got %v, %v; want a Deny with ErrInvalidConfig", d.Effect, err)
			}
		})
	}
}
