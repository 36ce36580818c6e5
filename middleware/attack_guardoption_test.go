package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackGuardOptionMisfit: a Resource or Attributes option written
// for another input type than the guarded tool's (a pointer where the
// tool takes a value, an interface that the input does not implement),
// or made from a nil function, compiles: GuardOption hides its type. It
// must make the guarded tool refuse every call, as a bad struct tag
// does, with ErrInvalidConfig and a Deny: not panic inside Guard on each
// call, which takes down an agent whose tool runner does not recover,
// and never run the tool.
func TestAttackGuardOptionMisfit(t *testing.T) {
	c := newClient(t)
	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "")
	var ran int
	charge := func(_ context.Context, in ChargeIn) (int, error) { ran++; return 1, nil }
	anyCharge := func(_ context.Context, in any) (int, error) { ran++; return 1, nil }
	for _, tc := range []struct {
		name string
		call func() (int, error)
		ok   bool // a control: the option fits
	}{
		{"Resource for a pointer, tool takes a value", func() (int, error) {
			return middleware.Guard(c, "payments.charge", charge,
				middleware.Resource(func(in *ChargeIn) string { return in.Customer }))(ctx, ChargeIn{Customer: "cust-1", Amount: 5})
		}, false},
		{"Attributes for another type", func() (int, error) {
			return middleware.Guard(c, "payments.charge", charge,
				middleware.Attributes(func(in fmt.Stringer) map[string]any { return map[string]any{"amount": in.String()} }))(ctx, ChargeIn{Customer: "cust-1", Amount: 5})
		}, false},
		{"Resource of a nil function", func() (int, error) {
			return middleware.Guard(c, "payments.charge", charge, middleware.Resource[ChargeIn](nil))(ctx, ChargeIn{Customer: "cust-1", Amount: 5})
		}, false},
		{"Attributes of a nil function", func() (int, error) {
			return middleware.Guard(c, "payments.charge", charge, middleware.Attributes[ChargeIn](nil))(ctx, ChargeIn{Customer: "cust-1", Amount: 5})
		}, false},
		{"Resource for a struct, tool takes any", func() (int, error) {
			return middleware.Guard(c, "payments.charge", anyCharge,
				middleware.Resource(func(in ChargeIn) string { return in.Customer }))(ctx, "cust-1")
		}, false},
		{"control: options for any, a nil input", func() (int, error) {
			return middleware.Guard(c, "payments.charge", anyCharge, middleware.Resource(func(any) string { return "cust-1" }),
				middleware.Attributes(func(any) map[string]any { return map[string]any{"amount": 5} }))(ctx, nil)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran = 0
			var (
				err      error
				panicked any
			)
			func() {
				defer func() { panicked = recover() }()
				_, err = tc.call()
			}()
			switch {
			case panicked != nil:
				t.Fatalf("Guard panicked: %v", panicked)
			case tc.ok:
				if err != nil || ran != 1 {
					t.Fatalf("control: %v, ran %d times", err, ran)
				}
				return
			}
			var de *middleware.DeniedError
			if !errors.Is(err, agenttrust.ErrInvalidConfig) || !errors.As(err, &de) || de.Decision.Effect != agenttrust.Deny {
				t.Errorf("got %v; want a Deny with ErrInvalidConfig", err)
			}
			if ran != 0 {
				t.Errorf("the tool ran %d times", ran)
			}
		})
	}
}
