package console_test

import "testing"

// A grant binds attribute values type-exactly, but a card showed a
// string without its quotes: {"amount": 5} and {"amount": "5"}, or a
// list and the string of that list, read the same, two requests that
// only one card's approval allows. A string that reads as another JSON
// value is shown quoted.
func TestAttackConsoleAttributeTypesShown(t *testing.T) {
	for _, tc := range []struct {
		name       string
		typed, str any
	}{
		{"number", 5, "5"},
		{"decimal", 1.5, "1.5"},
		{"bool", true, "true"},
		{"null", nil, "null"},
		{"list", []any{"a", "b"}, `["a","b"]`},
		{"object", map[string]any{"k": "v"}, `{"k":"v"}`},
		{"plain string control", "hello", "help"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			a := e.pending("bot", "payments.charge", "acct/1", map[string]any{"x": tc.typed})
			b := e.pending("bot", "payments.charge", "acct/1", map[string]any{"x": tc.str})
			if a == b {
				t.Fatalf("one approval for two requests")
			}
			br := e.browser()
			br.signIn("carol")
			body := br.do("GET", "/ui/approvals", nil).body
			ta := cardText(attrsBlockRE.FindString(approvalCard(t, body, a)))
			tb := cardText(attrsBlockRE.FindString(approvalCard(t, body, b)))
			if tc.name == "plain string control" && ta != "  x  hello  " {
				t.Errorf("a plain string is not shown as it is: %q", ta)
			}
			if ta == tb {
				t.Errorf("the cards of %#v and %#v show the same attributes: %q", tc.typed, tc.str, ta)
			}
		})
	}
}
