package cond

import (
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)

func env() *Env {
	return &Env{
		Agent: "billing-bot", Tool: "payments.charge", Resource: "mailbox:alice/inbox",
		Session: "s1", OnBehalfOf: "alice", Tenant: "acme",
		Attributes: map[string]any{
			"amount": 42, "f": 1.5, "cur": "USD", "ok": true, "big": uint64(7),
			"num": json.Number("12"), "nan": math.NaN(), "inf": math.Inf(1), "numstr": "42",
		},
		IP:   netip.MustParseAddr("10.1.2.3"),
		Now:  now,
		Hops: []string{"hop_a", "hop_b"},
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		cond string
		want bool
	}{
		{"agent = billing-bot", true},
		{"agent = other", false},
		{"agent in other,billing-*", true},
		{"tool in payments.charge,calendar.*", true},
		{"tool in payments.*", true},
		{"tool in payments", false},
		{"resource in mailbox:alice/*", true},
		{"resource in mailbox:bob/*", false},
		{"session = s1", true},
		{"on_behalf_of = alice", true},
		{"tenant = acme", true},
		{"attr.amount <= 50", true},
		{"attr.amount <= 42", true},
		{"attr.amount < 42", false},
		{"attr.amount > 41.5", true},
		{"attr.amount >= 43", false},
		{"attr.amount = 42", true},
		{"attr.f = 1.5", true},
		{"attr.big < 8", true},
		{"attr.num = 12", true},
		{"attr.nan < 1", false},
		{"attr.nan >= 1", false},
		{"attr.inf > 1", false},
		{"attr.numstr = 42", false},   // a string is not a number
		{`attr.numstr = "42"`, true},  // quoted: a string
		{"attr.missing < 100", false}, // missing attribute fails
		{"attr.cur = USD", true},
		{"attr.cur in EUR,USD", true},
		{"attr.cur in EUR,GBP", false},
		{`attr.amount in "42"`, false}, // in compares strings only
		{"attr.ok = true", true},
		{"attr.ok = false", false},
		{"attr.cur = true", false},
		{"ip in 10.0.0.0/8", true},
		{"ip in 192.168.0.0/16, ::1/128", false},
		{"ip = 10.1.2.3", true},
		{"expires < 2026-11-22T05:00:01Z", true},
		{"expires < 2026-11-22T05:00:00Z", false},
		{"expires <= 2026-11-22T05:00:00Z", true},
		{"hop = hop_b", true},
		{"hop = hop_c", false},
	}
	e := env()
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			c, err := Parse(tt.cond)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := c.Eval(e); got != tt.want {
				t.Errorf("Eval = %v, want %v", got, tt.want)
			}
			// The canonical form parses back to the same meaning.
			c2, err := Parse(c.String())
			if err != nil {
				t.Fatalf("reparse %q: %v", c.String(), err)
			}
			if c2.String() != c.String() || c2.Eval(e) != tt.want {
				t.Errorf("canonical form %q changed meaning", c.String())
			}
		})
	}
}

func TestEvalEmptyEnv(t *testing.T) {
	e := &Env{}
	for _, s := range []string{"ip in 0.0.0.0/0", "expires < 2999-01-01T00:00:00Z", "tool in *", "attr.x = 1"} {
		c, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if c.Eval(e) {
			t.Errorf("%q holds in an empty environment", s)
		}
	}
}

func TestParseErrors(t *testing.T) {
	bad := []string{
		"", "agent", "agent =", "agent == x", "agent ~ x", "colour = red",
		"attr. = 1", "attr.1x = 1", "attr.a.b = 1", "attr.x < abc", "attr.x < NaN",
		"attr.x < Inf", "attr.x < 0x10", `attr.x < "5"`, "attr.x = a b",
		"tool in ", "tool in a,,b", "tool in a,", "tool in a**", "tool in a?", "tool in [ab]",
		`tool in a\b`, "tool < x", "hop in a,b", "ip = 10.0.0.0/8", "ip in 10.0.0.0/33",
		"ip in nonsense", "expires = 2026-01-01T00:00:00Z", "expires < yesterday",
		`agent = "unterminated`, `agent = ""`, "agent = a,b", "tool in \"a\"b",
		"agent = \x01", "agent = \xff",
		"attr.amount in 42", "attr.ok in true", "attr.x > 9007199254740993.5",
		"agent = caf\u00e9", "tool in pay\u200bments.*", "resource = a/../b", "resource in a/%2e%2e/*",
	}
	for _, s := range bad {
		_, err := Parse(s)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want *SyntaxError", s, err)
		}
	}
}

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"a*c", "ac", true},
		{"a*c", "a", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{`lit\*`, "lit*", true},
		{`lit\*`, "litX", false},
		{"pay*", "pay*", true}, // a star in the value is just a character
		{"payments.charge", "payments.*", false},
		{"caf\u00e9", "cafe\u0301", false}, // values are normalised by the caller
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.pat)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", tt.pat, err)
		}
		if got := p.Match(tt.s); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
	// Patterns are normalised to NFC, so a decomposed pattern matches the
	// composed (normalised) value.
	p := MustPattern("cafe\u0301")
	if !p.Match(NFC("cafe\u0301")) || !p.Match("caf\u00e9") {
		t.Error("NFC normalisation of patterns")
	}
}

func TestEvalAllocs(t *testing.T) {
	e := env()
	for _, s := range []string{"attr.amount < 50", "tool in payments.*", "ip in 10.0.0.0/8", "attr.num = 12"} {
		c, _ := Parse(s)
		if n := testing.AllocsPerRun(100, func() { c.Eval(e) }); n != 0 {
			t.Errorf("%q: %v allocs", s, n)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"agent = a", "tool in a,b*", "attr.amount <= 50", `attr.x = "a b"`, "ip in 10.0.0.0/8,::1", "expires < 2026-11-22T05:00:00Z", "hop = h1", `tool in "a,b",c`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		canon := c.String()
		c2, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", canon, s, err)
		}
		if c2.String() != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, c2.String())
		}
		c.Eval(env())
		c.Eval(&Env{})
	})
}

func FuzzPattern(f *testing.F) {
	f.Add("a*b", "axb")
	f.Add(`x\*`, "x*")
	f.Fuzz(func(t *testing.T, pat, s string) {
		p, err := ParsePattern(pat)
		if err != nil {
			return
		}
		if lit, ok := p.Literal(); ok && p.Match(s) != (s == lit) {
			t.Fatalf("literal pattern %q mismatch on %q", pat, s)
		}
		if p.Any() && !p.Match(s) {
			t.Fatal("* must match everything")
		}
	})
}

func TestParseTimeMatchesStdlib(t *testing.T) {
	for _, s := range []string{
		"2026-11-22T05:00:00Z", "2026-11-22T05:00:00.5Z", "2026-11-22T05:00:00.123456789Z",
		"2024-02-29T23:59:59Z", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-22T24:00:00Z",
		"2026-11-22T05:00:00+02:00", "2026-11-22T05:00:00.Z", "2026-11-22T05:00:00.1234567890Z", "2026-1x-22T05:00:00Z",
	} {
		got, gerr := parseTime(s)
		want, werr := time.Parse(time.RFC3339Nano, s)
		if (gerr == nil) != (werr == nil) || gerr == nil && !got.Equal(want) {
			t.Errorf("%q: got %v %v, want %v %v", s, got, gerr, want, werr)
		}
	}
}
