package genkit_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/firebase/genkit/go/ai"

	"github.com/agenttrust/agenttrust"
)

// TestAttackHostileArguments: Genkit hands a tool its input decoded (a
// map), which the tool converts as encoding/json does, matching struct
// fields case-insensitively; input a policy and a tool could read
// differently (one name in two cases, or two names that fold alike) is
// refused before the check, even by a checker that allows everything,
// and the tool never runs.
func TestAttackHostileArguments(t *testing.T) {
	for name, input := range map[string]map[string]any{
		"case":        {"amount": 1.0, "AMOUNT": 1000000.0},
		"mixed case":  {"amount": 1.0, "Amount": 1000000.0},
		"kelvin sign": {"amount": 1.0, "k": 1.0, "\u212a": 2.0},
	} {
		t.Run(name, func(t *testing.T) {
			var checks atomic.Int32
			allowAll := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
				checks.Add(1)
				return agenttrust.Decision{Effect: agenttrust.Allow}, nil
			})
			f := newFixture(t, allowAll, "charge", input)
			resp, err := f.generate(agentCtx(t), ai.WithPrompt("hello"))
			if err != nil {
				t.Fatal(err)
			}
			if n := f.runs.Load(); n != 0 {
				t.Errorf("tool ran %d times", n)
			}
			if n := checks.Load(); n != 0 {
				t.Errorf("checker asked %d times", n)
			}
			if got := errorOf(t, resp); !strings.HasPrefix(got, "agenttrust: denied: invalid tool arguments") {
				t.Errorf("output error = %q, want a denial for invalid arguments", got)
			}
		})
	}
}
