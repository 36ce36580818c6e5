package agenttrust

import (
	"encoding/json"
	"testing"

	"github.com/agenttrust/agenttrust/internal/apikey"
)

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

// FuzzAppendJSONString: the audit's string encoder must produce JSON that
// decodes to what encoding/json's own encoding of the string decodes to.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "amount", `quo"te`, `back\slash`, "tab\there", "\x7f", "caf\u00e9", "\u2028", "bad\xff", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		enc := appendJSONString([]byte("x"), s)
		if err := json.Unmarshal(enc[1:], &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, enc[1:], err)
		}
		std, _ := json.Marshal(s)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%q decodes to %q, encoding/json gives %q", s, got, want)
		}
	})
}

// FuzzRedactCredentials: whatever the text, redaction leaves valid JSON
// in the record, finds nothing more on a second pass, and leaves text
// with no credential mark unchanged.
func FuzzRedactCredentials(f *testing.F) {
	key, err := apikey.Generate(nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "plain", key, "x" + key + "y", key[:20],
		"att_AgJFYXQxfHRva193eGphM21oanFvb3J2d3dzM21sc2MzbnJibXxrZXlf",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "eyJhbGciOiJIUzI1NiJ9..", "eyJ.eyJ.eyJ", "att_", "atk_\u202e"} {
		f.Add(s)
	}
	var red redactor
	f.Fuzz(func(t *testing.T, s string) {
		out := redactCredentials(s)
		if !mayHoldCredential(s) && out != s {
			t.Fatalf("changed text without a mark: %q -> %q", s, out)
		}
		if again := redactCredentials(out); again != out {
			t.Fatalf("a second pass found more: %q -> %q", out, again)
		}
		raw, _ := json.Marshal(map[string]any{"v": s, "l": []string{s}})
		for _, v := range []any{s, json.RawMessage(raw)} {
			b := appendKVs(nil, []attrKV{{Name: s, Value: v}}, &red)
			if !json.Valid(b) {
				t.Fatalf("not JSON: %q", b)
			}
		}
	})
}
