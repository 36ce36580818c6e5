package console_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// agentHeadRE is the heading of each agent's card on the Agents page.
var agentHeadRE = regexp.MustCompile(`(?s)<h2 id="ah-[^"]*">.*?</h2>`)

// TestAttackConsoleAgentsPageInvisibleChars: the Agents page lists every
// agent id of the last hour's decisions, and a request refused by
// validation (an admin key vouching for an agent that named itself, a
// library caller) is recorded with the agent id as sent. The page
// printed it raw: "bot" plus a zero-width space or a Hangul filler made
// a second card that read "bot", with its own Suspend button, next to
// the real one; a bidi override reversed the card's heading. Such an id
// is shown with the character escaped.
func TestAttackConsoleAgentsPageInvisibleChars(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    rune
	}{
		{"ZWSP U+200B", 0x200b},
		{"RLO U+202E", 0x202e},
		{"Hangul filler U+3164", 0x3164},
		{"NBSP U+00A0", 0x00a0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			ctx := context.Background()
			agent := "bot" + string(tc.r) + "x"
			d, err := e.client().Check(ctx, agenttrust.Request{AgentID: agent, Tool: "docs.read", Resource: "doc/1"})
			if err == nil || d.Effect != agenttrust.Deny {
				t.Fatalf("an agent id holding %s was not refused: %v %v", tc.name, d.Effect, err)
			}
			if err := e.client().SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			b.signIn("alice")
			var head string
			for _, h := range agentHeadRE.FindAllString(b.do("GET", "/ui/agents", nil).body, -1) {
				if ct := cardText(h); strings.Contains(ct, "bot") && strings.Contains(ct, "x") {
					head = ct // what a person reads
				}
			}
			if head == "" {
				t.Fatalf("no card for the refused agent id")
			}
			if strings.Contains(head, agent) {
				t.Errorf("the heading reads with %s raw: %q", tc.name, head)
			}
			if want := fmt.Sprintf(`bot\u%04x`, tc.r); !strings.Contains(head, want) {
				t.Errorf("the card's heading does not show %s", want)
			}
		})
	}
}
