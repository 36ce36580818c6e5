package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackPolicyJSONToolModesDuplicate: SECURITY §3 says policy JSON
// refuses duplicate keys, naming the key. The keys of tool_modes, a map,
// were not checked: {"shell.exec":"deny","shell.exec":"auto"} (or the
// second spelled "shell\u002eexec") was read as auto, the last one
// winning, so a reviewer reading a deny mode got a tool whose held
// requests are allowed without asking. Each is refused now.
func TestAttackPolicyJSONToolModesDuplicate(t *testing.T) {
	const rules = `"default":"needs_approval","rules":[]`
	for _, tt := range []struct{ name, doc, key, tool string }{
		{"deny_then_auto", `{` + rules + `,"tool_modes":{"shell.exec":"deny","shell.exec":"auto"}}`, "shell.exec", "shell.exec"},
		{"escaped_duplicate", `{` + rules + `,"tool_modes":{"shell.exec":"deny","shell\u002eexec":"auto"}}`, "shell.exec", "shell.exec"},
		{"glob_duplicate", `{` + rules + `,"tool_modes":{"shell.*":"ask","payments.refund":"ask","shell.*":"auto"}}`, "shell.*", "shell.exec"},
		{"same_mode_twice", `{` + rules + `,"tool_modes":{"x":"deny","x":"deny"}}`, "x", "x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := agenttrust.ParsePolicy([]byte(tt.doc), "json")
			if err == nil {
				c, cerr := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
				if cerr != nil {
					t.Fatal(cerr)
				}
				defer c.Close()
				d, _ := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: tt.tool})
				t.Fatalf("accepted with tool_modes %v; %s is %v by %q", p.ToolModes, tt.tool, d.Effect, d.Rule)
			}
			var pe *agenttrust.PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, agenttrust.ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("got %v; want a *PolicyError naming %q", err, tt.key)
			}
		})
	}
	// The same map without a duplicate still parses, and keys that differ
	// in case are two tools.
	if _, err := agenttrust.ParsePolicy([]byte(`{`+rules+`,"tool_modes":{"shell.exec":"deny","Shell.exec":"auto"}}`), "json"); err != nil {
		t.Fatal(err)
	}
}
