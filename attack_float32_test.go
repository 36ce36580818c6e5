package agenttrust_test

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackFloat32Threshold: a float32 attribute (a Guard input struct's
// float32 field, filled from the model's JSON) holds the binary number
// nearest its decimal, while the tool that acts on it reads, prints and
// rounds it as that decimal: float32(0.7) is 0.699999988 exactly, but
// "0.7" to the tool. Compared only as the binary number it slipped under
// a deny rule's threshold at the threshold itself. A deny rule whose
// outcome the two readings disagree on is never skipped.
func TestAttackFloat32Threshold(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		cond string
		v    float32
	}{
		"ge_0.7":     {"attr.amount >= 0.7", 0.7},
		"eq_0.7":     {"attr.amount = 0.7", 0.7},
		"ge_1000.1":  {"attr.amount >= 1000.1", 1000.1},
		"le_0.3":     {"attr.amount <= 0.3", 0.3},
		"lt_0.30001": {"attr.amount < 0.30000001", 0.30000001},
	}
	for name, tt := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, `
rules:
  - id: guard
    effect: deny
    tools: [payments.transfer]
    when: ['`+tt.cond+`']
  - id: open
    effect: allow
    tools: [payments.transfer]
`)
			d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "payments.transfer", Attributes: map[string]any{"amount": tt.v}})
			if d.Effect != agenttrust.Deny || d.Rule != "guard" {
				t.Fatalf("float32(%v) against %q: %+v, %v; want a Deny by guard", tt.v, tt.cond, d, err)
			}
		})
	}
}
