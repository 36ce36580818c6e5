package agenttrust_test

import (
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackPolicyYAMLNullEntry: the YAML decoder drops a null list entry
// ("~", "null", an empty "-") without a word, so an allow rule whose only
// tool, agent or resource a generator left null (Python's yaml.dump
// writes None as null) allows every tool, agent or resource, a condition
// written as null vanishes, and a null approver leaves the rule to any
// approver. The same document in JSON ([null]) is refused. A null entry,
// and a null map key, are refused in YAML too.
func TestAttackPolicyYAMLNullEntry(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		refused   bool
	}{
		{"tilde tool", "rules:\n - id: r\n   effect: allow\n   tools: [~]\n", true},
		{"null tool", "rules:\n - id: r\n   effect: allow\n   tools: [null]\n", true},
		{"empty tool entry", "rules:\n - id: r\n   effect: allow\n   tools:\n     -\n", true},
		{"null tool beside another", "rules:\n - id: r\n   effect: allow\n   tools: [mail.read, Null]\n", true},
		{"null agent", "rules:\n - id: r\n   effect: allow\n   agents: [~]\n   tools: [mail.read]\n", true},
		{"null resource", "rules:\n - id: r\n   effect: allow\n   resources: [NULL]\n", true},
		{"null condition", "rules:\n - id: r\n   effect: allow\n   tools: [payments.charge]\n   when: [~]\n", true},
		{"null approver", "rules:\n - id: r\n   effect: needs_approval\n   tools: [payments.wire]\n   approvers: [~]\n", true},
		{"null rule", "rules:\n - id: r\n   effect: deny\n - ~\n", true},
		{"null tool mode key", "tool_modes:\n  ~: deny\nrules:\n - id: r\n   effect: allow\n", true},
		// Controls: these mean what they say. (A whole field left null
		// is refused too: TestAttackPolicyNullField.)
		{"field left out", "rules:\n - id: r\n   effect: allow\n   tools: [mail.read]\n", false},
		{"tool named null", "rules:\n - id: r\n   effect: allow\n   tools: [\"null\"]\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := agenttrust.ParsePolicy([]byte(tc.doc), "yaml")
			if !tc.refused {
				if err != nil {
					t.Fatalf("%v", err)
				}
				return
			}
			var pe *agenttrust.PolicyError
			if !(errors.As(err, &pe) && errors.Is(err, agenttrust.ErrInvalidPolicy)) {
				t.Fatalf("accepted as %+v (err %v)", p, err)
			}
		})
	}
}
