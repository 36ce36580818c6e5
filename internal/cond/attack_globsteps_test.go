package cond

import (
	"strings"
	"testing"
)

// TestAttackResourceGlobQuadratic: a resource glob with "**" followed by
// a '*' restarted the '*' walk from each position "**" could take, and
// each walk ran to the next '/': on a resource of one long segment the
// match took O(len(pattern) * len(resource)^2) steps, not the linear
// bound its comment states. Resources are the attacker's: a 1 KiB one
// against "**x*z" took about half a million steps per rule per check.
// The matcher now counts its steps and, past a linear budget, finishes
// with a state-set walk of O(len(pattern) * len(resource)) steps.
func TestAttackResourceGlobQuadratic(t *testing.T) {
	const n = 1023 // the longest resource a check takes is 1024 bytes
	tests := []struct{ pat, s string }{
		{"**x*z", strings.Repeat("x", n) + "/"},
		{"**x*z", strings.Repeat("x", n/2) + "/" + strings.Repeat("x", n/2)},
		{"**a*b*c", strings.Repeat("ab", n/2) + "/"},
		{"mailbox:**/x*y*z", "mailbox:" + strings.Repeat("x", n-10) + "/"},
		{"**x*x*x*q", strings.Repeat("x", n) + "/"},
		{"**/*.txt", "a/" + strings.Repeat("b", n-8) + ".txt"}, // benign
		{"repo:*/**/file", "repo:org/" + strings.Repeat("a/", 400) + "file"},
		{"**", strings.Repeat("x", n)},
		{"**" + strings.Repeat("x*", 2500) + "z", strings.Repeat("x", n) + "/"}, // past the states on the stack
	}
	for _, tt := range tests {
		p, err := ParseResourcePattern(tt.pat)
		if err != nil {
			t.Fatalf("parse %q: %v", tt.pat, err)
		}
		got, steps := matchProgSteps(p.prog, tt.s)
		if want := globRegexp(p.prog).MatchString(tt.s); got != want {
			t.Errorf("%q.Match(%.20q...) = %v, regexp says %v", tt.pat, tt.s, got, want)
		}
		if bound := 4 * (len(p.prog) + 1) * (len(tt.s) + 1); steps > bound {
			t.Errorf("%q on a %d-byte resource: %d steps, past O(p*s) = %d", tt.pat, len(tt.s), steps, bound)
		}
	}
}

// TestResourceGlobStatesMatchesRegexp holds matchStates, which the
// matcher falls back to on adversarial input, to the same semantics as
// the regexp over every short pattern and resource.
func TestResourceGlobStatesMatchesRegexp(t *testing.T) {
	var pats, vals []string
	var gen func(p string, n int, alpha []string, out *[]string)
	gen = func(p string, n int, alpha []string, out *[]string) {
		*out = append(*out, p)
		if n == 0 {
			return
		}
		for _, c := range alpha {
			if strings.HasSuffix(p, "*") && strings.HasPrefix(c, "*") {
				continue
			}
			gen(p+c, n-1, alpha, out)
		}
	}
	gen("", 4, []string{"a", "b", "/", "*", "**"}, &pats)
	gen("", 5, []string{"a", "b", "/"}, &vals)
	checked := 0
	for _, ps := range pats[1:] {
		p, err := parsePattern(ps, true)
		if err != nil {
			t.Fatalf("parse %q: %v", ps, err)
		}
		if p.prog == "" {
			continue
		}
		re := globRegexp(p.prog)
		for _, v := range vals {
			if got, _ := matchStates(p.prog, v); got != re.MatchString(v) {
				t.Fatalf("matchStates(%q, %q) = %v, regexp says %v", ps, v, got, !got)
			}
			checked++
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d pairs checked", checked)
	}
}
