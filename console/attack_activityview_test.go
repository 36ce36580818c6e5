package console_test

import (
	"context"
	"fmt"
	"html"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackConsoleActivityInvisibleChars: the activity page shows what
// agents asked for (the resource in each row's summary, the record's
// attributes in its JSON), and agent text is shown as it is only when
// every character is visible. The approvals card escaped bidi, zero-width
// and separator characters, but the activity page printed the resource
// and the record as they were: a right-to-left override in an attribute
// reversed what followed ("invoice‮gpj.exe" read as "invoiceexe.jpg"), a
// line separator or C1 control in the resource hid or faked what followed,
// on the page a person reads to find out what an agent did.
func TestAttackConsoleActivityInvisibleChars(t *testing.T) {
	for _, tc := range []struct {
		name     string
		s        string
		resource bool // a resource may hold it (no Cf, no Zs)
	}{
		{"RLO U+202E", "\u202e", false},
		{"ZWSP U+200B", "\u200b", false},
		{"NBSP U+00A0", "\u00a0", false},
		{"LS U+2028 in the resource", "\u2028", true},
		{"C1 NEL U+0085 in the resource", "\u0085", true},
		{"C1 CSI U+009B in the resource", "\u009b", true},
		{"private use U+E000 in the resource", "\ue000", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			ctx := context.Background()
			req := agenttrust.Request{Credential: e.keys["bot"], Tool: "docs.read", Resource: "doc/1",
				Attributes: map[string]any{"file": "invoice" + tc.s + "gpj.exe"}}
			raw := []string{"invoice" + tc.s}
			if tc.resource {
				req.Resource = "doc/1" + tc.s + "2"
				raw = append(raw, "doc/1"+tc.s)
			}
			if _, err := e.client().Check(ctx, req); err != nil {
				t.Fatal(err)
			}
			if err := e.client().SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			b.signIn("carol")
			p := b.do("GET", "/ui/activity", nil)
			if !strings.Contains(p.body, "gpj.exe") {
				t.Fatalf("the check is not on the activity page: %s", p.body)
			}
			text := html.UnescapeString(p.body)
			for _, s := range raw {
				if strings.Contains(text, s) {
					t.Errorf("the activity page holds %s raw (%q)", tc.name, s)
				}
			}
			if want := fmt.Sprintf(`invoice\u%04x`, []rune(tc.s)[0]); !strings.Contains(text, want) {
				t.Errorf("the activity page does not show %s as an escape %s", tc.name, want)
			}
		})
	}
}
