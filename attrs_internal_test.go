package agenttrust

import "testing"

func TestSecretWordFilter(t *testing.T) {
	// The filter must pass every name that holds a secret word.
	for _, w := range secretWords {
		for _, name := range []string{w, "X-" + w, "my_" + w + "_2", string(lower(w[0])-32) + w[1:]} {
			if !mayHoldSecretWord(name) {
				t.Errorf("filter drops %q", name)
			}
			var r redactor
			if !r.redact(name) {
				t.Errorf("%q not redacted", name)
			}
		}
	}
	var r redactor
	for _, name := range []string{"amount", "currency", "customer_id", "note"} {
		if r.redact(name) {
			t.Errorf("%q redacted", name)
		}
	}
}
