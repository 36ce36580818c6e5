package agenttrust_test

import (
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackPolicyNullField: a list field given as null was read as left
// out, which on a rule means any. A template that renders an empty list
// as nothing ("tools: {{ .Tools }}" gives "tools:"), or a generator that
// writes None, turned an allow rule meant for no tool, agent or resource
// into one for every tool, agent or resource; a null "when" dropped the
// rule's condition and a null "approvers" left it to any approver. JSON's
// null was read the same way for the lists (and refused for the
// scalars). A field present with null is now refused in both formats, as
// an empty list is: leave it out to mean any.
func TestAttackPolicyNullField(t *testing.T) {
	for _, tc := range []struct {
		name, format, doc string
	}{
		{"yaml tools ~", "yaml", "rules:\n - id: r\n   effect: allow\n   tools: ~\n"},
		{"yaml tools blank", "yaml", "rules:\n - id: r\n   effect: allow\n   agents: [bot]\n   tools:\n"},
		{"yaml agents null", "yaml", "rules:\n - id: r\n   effect: allow\n   agents: null\n   tools: [mail.read]\n"},
		{"yaml resources blank", "yaml", "rules:\n - id: r\n   effect: allow\n   tools: [files.read]\n   resources:\n"},
		{"yaml when ~", "yaml", "rules:\n - id: r\n   effect: allow\n   tools: [payments.charge]\n   when: ~\n"},
		{"yaml approvers ~", "yaml", "rules:\n - id: r\n   effect: needs_approval\n   tools: [payments.wire]\n   approvers: ~\n"},
		{"yaml limit agents ~", "yaml", "rules:\n - id: r\n   effect: allow\nlimits:\n - id: l\n   rate: 1/s\n   agents: ~\n"},
		{"yaml reason ~", "yaml", "rules:\n - id: r\n   effect: deny\n   reason: ~\n"},
		{"yaml effect ~", "yaml", "rules:\n - id: r\n   effect: ~\n   tools: [x]\n"},
		{"yaml tool mode ~", "yaml", "tool_modes:\n  x: ~\nrules:\n - id: r\n   effect: allow\n"},
		{"json tools null", "json", `{"rules":[{"id":"r","effect":"allow","tools":null}]}`},
		{"json agents null", "json", `{"rules":[{"id":"r","effect":"allow","agents":null,"tools":["mail.read"]}]}`},
		{"json when null", "json", `{"rules":[{"id":"r","effect":"allow","tools":["payments.charge"],"when":null}]}`},
		{"json approvers null", "json", `{"rules":[{"id":"r","effect":"needs_approval","tools":["payments.wire"],"approvers":null}]}`},
		{"json limits null", "json", `{"rules":[],"limits":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := agenttrust.ParsePolicy([]byte(tc.doc), tc.format)
			var pe *agenttrust.PolicyError
			if !(errors.As(err, &pe) && errors.Is(err, agenttrust.ErrInvalidPolicy)) {
				t.Fatalf("accepted as %+v (err %v)", p, err)
			}
		})
	}
	// What still reads as written: a field left out, a quoted "null",
	// and JSON's null for the rules list, which encoding/json writes for
	// a Policy with no rules.
	for _, ok := range []struct{ format, doc string }{
		{"yaml", "rules:\n - id: r\n   effect: allow\n   tools: [mail.read]\n"},
		{"yaml", "rules:\n - id: r\n   effect: deny\n   reason: \"~\"\n"},
		{"yaml", "rules: []\n"},
		{"json", `{"rules":null}`},
		{"json", `{"rules":[{"id":"r","effect":"allow","tools":["mail.read"]}]}`},
	} {
		if _, err := agenttrust.ParsePolicy([]byte(ok.doc), ok.format); err != nil {
			t.Errorf("%s %q: %v", ok.format, ok.doc, err)
		}
	}
}
