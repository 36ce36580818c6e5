package agenttrust_test

import (
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackPolicyYAMLReadsAsWritten: SECURITY §3 says YAML refuses
// duplicate keys. A merge key ("<<") gives a rule a key twice and one of
// them silently wins; a !!binary tag makes a tool list read as base64
// text name another tool. Each document means something other than what
// a reviewer reads, and should be refused.
func TestAttackPolicyYAMLReadsAsWritten(t *testing.T) {
	for name, doc := range map[string]string{
		// Reads as deny (and tools x); is an allow of every tool x.
		"merge key overridden": `
rules:
  - <<: {effect: deny, tools: [x]}
    id: guard
    effect: allow
`,
		// Reads as allowing y too; allows x only.
		"merge key under a key": `
rules:
  - id: r
    effect: allow
    tools: [x]
    <<: {tools: [y]}
`,
		// Reads as an opaque token; allows delete_database.
		"binary tag": `
rules:
  - id: r
    effect: allow
    tools: [!!binary ZGVsZXRlX2RhdGFiYXNl]
`,
	} {
		p, err := agenttrust.ParsePolicy([]byte(doc), "yaml")
		if err == nil {
			t.Errorf("%s: accepted as %+v", name, p.Rules)
		}
	}
}

func TestPolicyYAMLPlainStillParses(t *testing.T) {
	doc := "default: deny\nrules:\n  - id: r\n    effect: allow\n    tools: [x, \"y*\"]\n    when: [\"attr.amount <= 5\", 'session = s-1']\n    reason: a plain reason\n"
	if _, err := agenttrust.ParsePolicy([]byte(doc), "yaml"); err != nil {
		t.Fatal(err)
	}
}
