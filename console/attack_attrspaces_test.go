package console_test

import (
	"strings"
	"testing"
)

// HTML collapses a run of spaces into one and drops spaces at the start
// and end of a cell, and an approval binds attribute names and values
// byte for byte: the cards of {"user": "admin "} and {"user": "admin"},
// or of "a  b" and "a b", read the same to a person. Text whose spaces a
// page would not show as they are is quoted, each such space escaped.
func TestAttackConsoleAttributeSpacesShown(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b map[string]any
	}{
		{"trailing space", map[string]any{"user": "admin "}, map[string]any{"user": "admin"}},
		{"leading space", map[string]any{"user": " admin"}, map[string]any{"user": "admin"}},
		{"two spaces", map[string]any{"path": "a  b"}, map[string]any{"path": "a b"}},
		{"a space alone", map[string]any{"note": " "}, map[string]any{"note": ""}},
		{"name with a trailing space", map[string]any{"amount ": 5}, map[string]any{"amount": 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			a := e.pending("bot", "payments.charge", "acct/1", tc.a)
			b := e.pending("bot", "payments.charge", "acct/1", tc.b)
			if a == b {
				t.Fatalf("one approval for two requests")
			}
			br := e.browser()
			br.signIn("carol")
			body := br.do("GET", "/ui/approvals", nil).body
			// What a browser shows: runs of white space collapsed.
			seen := func(id string) string {
				return strings.Join(strings.Fields(cardText(attrsBlockRE.FindString(approvalCard(t, body, id)))), " ")
			}
			if sa, sb := seen(a), seen(b); sa == sb {
				t.Errorf("the cards of %q and %q read the same: %q", tc.a, tc.b, sa)
			}
		})
	}
}
