package agenttrust_test

import (
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestPolicyYAMLErrorLine: a YAML syntax error names the line of the
// problem, not the line where the construct around it began (which the
// YAML parser reports: line 1 for a mistake anywhere in the top-level
// mapping).
func TestPolicyYAMLErrorLine(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"rule key indented too little", "default: deny\nrules:\n  - id: a\n effect: allow\n", "line 4: did not find expected key"},
		{"rule key indented between", "default: deny\nrules:\n  - id: a\n    effect: allow\n   tools: [x]\n", "line 5: "},
		{"top-level key out of place", "default: deny\nrules:\n  - id: a\n    effect: allow\n  limits: []\n", "line 5: "},
		{"mapping in a flow sequence", "default: deny\nrules:\n  - id: a\n    effect: allow\n    when: [a: b: c]\n", "line 5: "},
		{"top-level line without a colon", "default: deny\nrules: []\nlimits: []\noops\n", "line 4: "},
		{"tab", "default: deny\nrules:\n  - id: a\n    effect: allow\n\tbad: 1\n", "line 5: "},
		{"unknown field keeps its line", "default: deny\nrules:\n  - id: a\n    effect: allow\n    tool: [x]\n", "line 5: field tool not found"},
		{"no newline at the end", "default: deny\nrules:\n  - id: a\n effect: allow", "line 4: did not find expected key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := agenttrust.ParsePolicy([]byte(tc.doc), "yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
