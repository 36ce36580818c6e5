package redact

import (
	"strings"
	"testing"
)

// scan runs Credentials' loop and returns its output and the work done.
func scan(s string) (string, int) {
	sc := scanner{s: s, budget: 8*len(s) + 1<<16}
	out := Credentials(s)
	for i := 0; i < len(s) && sc.work <= sc.budget; {
		if n := sc.credentialAt(i); n > 0 {
			i += n
		} else {
			i++
		}
	}
	return out, sc.work
}

// TestCredentialsLinear: text built so that every position starts a
// candidate credential costs work linear in its length, never a scan to
// the end of the text from each position; text past any reading is
// replaced rather than read. Work is counted, not timed.
func TestCredentialsLinear(t *testing.T) {
	const n = 1 << 18
	for _, tc := range []struct {
		name   string
		text   string
		masked bool // past the budget: replaced from some point on
	}{
		{"eyJ, no dot", strings.Repeat("eyJ", n/3), false},
		{"att_", strings.Repeat("att_", n/4), false},
		{"atk_", strings.Repeat("atk_", n/4), false},
		{"eyJ then a long run", "eyJ." + strings.Repeat("eyJ", n/3) + ".x", false},
		{"headers too long", strings.Repeat("eyJ"+strings.Repeat("A", maxJWTHeader)+".", n/maxJWTHeader), false},
		{"many dots", strings.Repeat("eyJ.", n/4), false},
		{"JWT-shaped runs", strings.Repeat("eyJhbGciOiJIUzI1NiJ9.", n/21), false},
		{"headers that each decode", strings.Repeat(strings.Repeat("eyJ", maxJWTHeader/3)+".e.e ", n/maxJWTHeader), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, work := scan(tc.text)
			if work > 9*len(tc.text)+1<<16 {
				t.Fatalf("work %d for %d bytes", work, len(tc.text))
			}
			if masked := strings.HasSuffix(out, Mark) && !strings.HasSuffix(tc.text, Mark); masked != tc.masked {
				t.Fatalf("replaced from some point on: %v, want %v", masked, tc.masked)
			}
		})
	}
}

// TestCredentialsBudgetKeepsWhatItRead: past the budget, the text read so
// far stays as it was, with its credentials replaced, and nothing after
// is kept.
func TestCredentialsBudgetKeepsWhatItRead(t *testing.T) {
	key := "att_AgJFYXQxfHRva193eGphM21oanFvb3J2d3dzM21sc2MzbnJibXxrZXlf"
	junk := strings.Repeat(strings.Repeat("eyJ", maxJWTHeader/3)+".e.e ", 400)
	out := Credentials("token " + key + " then " + junk)
	if !strings.HasPrefix(out, "token "+Mark+" then ") || !strings.HasSuffix(out, Mark) || strings.Contains(out, key) {
		t.Fatalf("out = %.120q...", out)
	}
}
