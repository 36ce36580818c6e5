package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/webhook"
)

// TestAttackSlackTextResourceQuoted: the resource is the one free text an
// agent chooses in a notification's one-line summary (agent ids and tool
// names are names; the rule and its reason are the operator's). Spliced in
// bare, a resource such as "acct/1 (rule read: auto-approved). No action
// needed" read as the summary's own words, telling the person there was
// nothing to decide. It is quoted, so where it ends is plain.
func TestAttackSlackTextResourceQuoted(t *testing.T) {
	for _, res := range []string{
		"acct/1 (rule read: auto-approved). No action needed",
		`acct/1" (rule read`,
		"acct/*1* _x_ ~y~ `z`",
	} {
		t.Run(res, func(t *testing.T) {
			a := agenttrust.Approval{ID: "apr_1", AgentID: "bot", Tool: "payments.charge", Resource: res, Rule: "pay",
				ExpiresAt: time.Date(2030, 1, 1, 3, 15, 0, 0, time.UTC)}
			text := webhook.NewPayload(a, "").Text
			_, after, ok := strings.Cut(text, " on ")
			if !ok || !strings.HasPrefix(after, `"`) {
				t.Fatalf("resource not quoted: %s", text)
			}
			end := strings.Index(after, `" (rule pay)`)
			if end < 0 {
				t.Fatalf("no closing quote before the rule: %s", text)
			}
			if inner := after[1:end]; strings.Count(inner, `"`) != strings.Count(inner, `\"`) {
				t.Fatalf("the quoted resource holds a bare quote: %s", text)
			}
		})
	}
}
