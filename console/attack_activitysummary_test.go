package console_test

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// summaryRE is the one-line summary of each decision on the activity page.
var summaryRE = regexp.MustCompile(`(?s)<summary>.*?</summary>`)

// TestAttackConsoleActivitySummaryInvisibleChars: a request refused by
// validation is recorded with its tool as the agent sent it (valid UTF-8,
// at most 1 KiB), bidi overrides and line separators included. The
// activity page escaped such characters in the resource and the record's
// JSON, but printed the tool in each decision's summary raw: a
// right-to-left override in it reversed the rest of the line (the
// resource and the rule), so the row read as another tool on another
// resource than the record holds.
func TestAttackConsoleActivitySummaryInvisibleChars(t *testing.T) {
	for _, tc := range []struct{ name, s string }{
		{"RLO U+202E", "\u202e"},
		{"RLI U+2067", "\u2067"},
		{"ZWSP U+200B", "\u200b"},
		{"LS U+2028", "\u2028"},
		{"C1 NEL U+0085", "\u0085"},
		{"NBSP U+00A0", "\u00a0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			ctx := context.Background()
			tool := "docs.read" + tc.s + "etirw.sbd"
			d, err := e.client().Check(ctx, agenttrust.Request{Credential: e.keys["bot"], Tool: tool, Resource: "doc/1"})
			if err == nil || d.Effect != agenttrust.Deny {
				t.Fatalf("a tool holding %s was not refused: %v %v", tc.name, d.Effect, err)
			}
			if err := e.client().SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			b.signIn("carol")
			p := b.do("GET", "/ui/activity", nil)
			var row string
			for _, s := range summaryRE.FindAllString(p.body, -1) {
				if strings.Contains(s, "etirw.sbd") {
					row = html.UnescapeString(s)
				}
			}
			if row == "" {
				t.Fatalf("the refused check is not on the activity page: %s", p.body)
			}
			if strings.Contains(row, tc.s) {
				t.Errorf("the summary holds %s raw: %q", tc.name, row)
			}
			if want := fmt.Sprintf(`docs.read\u%04x`, []rune(tc.s)[0]); !strings.Contains(row, want) {
				t.Errorf("the summary does not show %s as an escape %s: %q", tc.name, want, row)
			}
		})
	}
}
