package adk_test

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/genai"

	"github.com/agenttrust/agenttrust"
)

// TestAttackHostileArguments: ADK hands a tool its arguments as a map,
// which the tool decodes as encoding/json does, matching struct fields
// case-insensitively; arguments a policy and a tool could read
// differently (one name in two cases, or two names that fold alike) or
// that have no JSON form are refused before the check, even by a checker
// that allows everything, and the tool never runs.
func TestAttackHostileArguments(t *testing.T) {
	for name, args := range map[string]map[string]any{
		"case":        {"amount": 1, "AMOUNT": 1000000},
		"mixed case":  {"amount": 1, "Amount": 1000000},
		"kelvin sign": {"amount": 1, "k": 1, "\u212a": 2},
		"NaN":         {"amount": math.NaN()},
		"infinity":    {"amount": math.Inf(1)},
	} {
		t.Run(name, func(t *testing.T) {
			var checks atomic.Int32
			allowAll := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
				checks.Add(1)
				return agenttrust.Decision{Effect: agenttrust.Allow}, nil
			})
			f := newFixture(t, allowAll, &genai.FunctionCall{Name: "charge", Args: args})
			tr := f.run(t, t.Context(), hello)
			if n := f.runs.Load(); n != 0 {
				t.Errorf("tool ran %d times", n)
			}
			if n := checks.Load(); n != 0 {
				t.Errorf("checker asked %d times", n)
			}
			if got := errorOf(t, tr); !strings.HasPrefix(got, "agenttrust: denied: invalid tool arguments") {
				t.Errorf("result error = %q, want a denial for invalid arguments", got)
			}
		})
	}
}
