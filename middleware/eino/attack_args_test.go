package eino_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackHostileArguments: arguments a policy and a tool could read
// differently (a member named twice, exactly, by an escape or by case,
// or a second JSON value after the first) are refused before the check,
// even by a checker that allows everything, and the tool never runs.
// Eino's InferTool decodes with bytedance/sonic, which, like
// encoding/json, keeps the last of two members and matches struct fields
// case-insensitively: {"amount":1,"AMOUNT":1000000} would show the
// policy an amount of 1 and charge 1000000.
func TestAttackHostileArguments(t *testing.T) {
	for _, args := range []string{
		`{"amount":1,"amount":1000000}`,
		`{"amount":1,"AMOUNT":1000000}`,
		`{"amount":1,"amoun\u0074":1000000}`,
		`{"amount":1,"k":1,"\u212a":2}`,
		`{"amount":1} {"amount":1000000}`,
		`{"amount":1,}`,
	} {
		t.Run(args, func(t *testing.T) {
			var checks atomic.Int32
			allowAll := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
				checks.Add(1)
				return agenttrust.Decision{Effect: agenttrust.Allow}, nil
			})
			f := newFixture(t, allowAll, "charge", args)
			o := drain(t, f.runner.Query(agentCtx(t), "hello"))
			if n := f.runs.Load(); n != 0 {
				t.Errorf("tool ran %d times", n)
			}
			if n := checks.Load(); n != 0 {
				t.Errorf("checker asked %d times", n)
			}
			if len(o.results) != 1 || !strings.HasPrefix(o.results[0], "agenttrust: denied: invalid tool arguments") {
				t.Errorf("results = %q, want a denial for invalid arguments", o.results)
			}
		})
	}
}
