package console_test

import "testing"

// A grant binds attribute values type-exactly, and null is not the empty
// string, but the card read an attribute's value as a string first and
// json.Unmarshal takes null into a string as "" without an error: the
// cards of {"approved_by": null} and {"approved_by": ""} read the same.
// A null is shown as null (the string "null" is shown quoted).
func TestAttackConsoleAttributeNullShown(t *testing.T) {
	for _, tc := range []struct {
		name       string
		null, same any
	}{
		{"null and the empty string", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			a := e.pending("bot", "payments.charge", "acct/1", map[string]any{"approved_by": tc.null})
			b := e.pending("bot", "payments.charge", "acct/1", map[string]any{"approved_by": tc.same})
			if a == b {
				t.Fatalf("one approval for two requests")
			}
			br := e.browser()
			br.signIn("carol")
			body := br.do("GET", "/ui/approvals", nil).body
			ta := cardText(attrsBlockRE.FindString(approvalCard(t, body, a)))
			tb := cardText(attrsBlockRE.FindString(approvalCard(t, body, b)))
			if ta == tb {
				t.Errorf("the cards of %#v and %#v show the same attributes: %q", tc.null, tc.same, ta)
			}
		})
	}
}
