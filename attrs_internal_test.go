package agenttrust

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/redact"
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
		out := redact.Credentials(s)
		if got, want := redact.MayHold(s), containsMark(s); got != want {
			t.Fatalf("redact.MayHold(%q) = %v; a mark is in it: %v", s, got, want)
		}
		if got := redact.MayHoldBytes([]byte(s)); got != containsMark(s) {
			t.Fatalf("redact.MayHoldBytes(%q) = %v", s, got)
		}
		if !redact.MayHold(s) && out != s {
			t.Fatalf("changed text without a mark: %q -> %q", s, out)
		}
		if again := redact.Credentials(out); again != out {
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

// containsMark is redact.MayHold without its pre-scan.
func containsMark(s string) bool {
	for _, m := range redact.Marks {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// The pre-scan of redact.MayHold lets through text with neither '_'
// nor 'J': every mark must hold one of them. Neither filter may allocate.
// The marks start the credentials this package makes.
func TestCredentialMarksPrescan(t *testing.T) {
	if !slices.Contains(redact.Marks[:], KeyPrefix) || !slices.Contains(redact.Marks[:], TokenPrefix) {
		t.Errorf("redact.Marks %q lack %q or %q", redact.Marks, KeyPrefix, TokenPrefix)
	}
	for _, m := range redact.Marks {
		if !strings.ContainsAny(m, "_J") {
			t.Errorf("mark %q holds neither '_' nor 'J'", m)
		}
		if !redact.MayHold(m) || !redact.MayHold("some text "+m+" more") || !redact.MayHoldBytes([]byte("x"+m)) {
			t.Errorf("redact.MayHold misses %q", m)
		}
	}
	long := []byte(strings.Repeat("plain ascii text, no marks; ", 40))
	if n := testing.AllocsPerRun(100, func() { redact.MayHoldBytes(long) }); n != 0 {
		t.Errorf("redact.MayHoldBytes allocates %v times on a long []byte", n)
	}
	long = append(long, "J_"...)
	if n := testing.AllocsPerRun(100, func() { redact.MayHoldBytes(long) }); n != 0 {
		t.Errorf("redact.MayHoldBytes allocates %v times on a long []byte with '_'", n)
	}
}
