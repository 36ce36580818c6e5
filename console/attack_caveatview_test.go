package console_test

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"
)

// caveatsRE is the caveats of each node of a delegation tree.
var caveatsRE = regexp.MustCompile(`(?s)<span class="muted caveats">(.*?)</span>`)

// TestAttackConsoleCaveatInvisibleChars: an agent delegating its token
// writes the hop's caveats, and a caveat's value may hold any text. The
// Agents page, where an admin reads what each hop may do before deciding
// whether to revoke it, printed the caveats raw, joined by "; ": the one
// caveat `attr.note = x;<NBSP>tool<NBSP>in<NBSP>docs.read` read as a second
// caveat "tool in docs.read", a hop held to one tool, while it allows any
// tool to the agent that sends that note. A caveat holding a character a
// person does not see is shown quoted, the character escaped.
func TestAttackConsoleCaveatInvisibleChars(t *testing.T) {
	for _, tc := range []struct{ name, sep string }{
		{"NBSP U+00A0", "\u00a0"},
		{"line separator U+2028", "\u2028"},
		{"figure space U+2007", "\u2007"},
		{"Hangul filler U+3164", "\u3164"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			ctx := context.Background()
			tok, err := e.client().Exchange(ctx, e.keys["bot"])
			if err != nil {
				t.Fatal(err)
			}
			caveat := "attr.note = x;" + strings.Join([]string{"", "tool", "in", "docs.read"}, tc.sep)
			if _, _, err := e.client().Delegate(ctx, tok, time.Hour, caveat); err != nil {
				t.Fatalf("delegate with %q: %v", caveat, err)
			}
			b := e.browser()
			b.signIn("alice")
			var shown string
			for _, m := range caveatsRE.FindAllStringSubmatch(b.do("GET", "/ui/agents", nil).body, -1) {
				if strings.Contains(m[1], "attr.note") {
					shown = html.UnescapeString(m[1])
				}
			}
			if shown == "" {
				t.Fatal("the hop's caveats are not on the Agents page")
			}
			if strings.Contains(shown, tc.sep) {
				t.Errorf("the caveats hold %s raw: %q", tc.name, shown)
			}
			if want := fmt.Sprintf(`x;\u%04xtool`, []rune(tc.sep)[0]); !strings.Contains(shown, want) {
				t.Errorf("the caveats do not show %s as an escape %s: %q", tc.name, want, shown)
			}
		})
	}
}
