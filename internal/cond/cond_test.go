package cond

import (
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
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
		"attr.x > 1e-400", "attr.x = 1e-400", "attr.x < -1e-400", "attr.x > 2e-324", "attr.x > 5e-324", "attr.x >= 1e-310",
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
	for _, s := range []string{"agent = a", "tool in a,b*", "attr.amount <= 50", "attr.amount? > 9007199254740993", `attr.x in "1",b`, "resource in a/**/b,c/*", `attr.x = "a b"`, "ip in 10.0.0.0/8,::1", "expires < 2026-11-22T05:00:00Z", "hop = h1", `tool in "a,b",c`} {
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
		if pre := p.LiteralPrefix(); p.Match(s) && !strings.HasPrefix(s, pre) {
			t.Fatalf("%q matches %q, which does not start with its literal prefix %q", pat, s, pre)
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

func TestEvaluateUnknown(t *testing.T) {
	e := env()
	e.Attributes["nfd"] = "cafe\u0301"
	e.Attributes["zw"] = "US\u200b"
	e.Attributes["obj"] = map[string]any{"a": 1}
	e.Attributes["null"] = nil
	e.Attributes["badnum"] = json.Number("1e999")
	tests := []struct {
		cond string
		want Result
	}{
		{"attr.amount > 40", True},
		{"attr.amount > 50", False},
		{"attr.missing > 1", Unknown},
		{"attr.numstr > 1", Unknown},
		{"attr.nan > 1", Unknown},
		{"attr.inf > 1", Unknown},
		{"attr.badnum > 1", Unknown},
		{"attr.obj = 1", Unknown},
		{"attr.null = 1", Unknown},
		{"attr.amount = USD", Unknown},
		{`attr.amount in "42"`, Unknown},
		{"attr.cur = true", Unknown},
		{"attr.ok = USD", Unknown},
		{`attr.nfd = "caf\u00e9"`, Unknown},
		{"attr.zw in US,FR", Unknown},
		{"attr.missing? > 1", False}, // declared optional
		{"attr.numstr? > 1", Unknown},
		{"attr.amount? > 40", True},
		{"agent = other", False},   // a request field is always known
		{"session = other", False}, // even when empty
		{"hop = hop_zzz", False},   // hops are known
		{"ip in 10.0.0.0/8", True}, // known address
		{"expires < 2999-01-01T00:00:00Z", True},
	}
	for _, tt := range tests {
		c, err := Parse(tt.cond)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.cond, err)
		}
		if got := c.Evaluate(e); got != tt.want {
			t.Errorf("%q: Evaluate = %v, want %v", tt.cond, got, tt.want)
		}
		if (c.Why(e) != "") != (tt.want == Unknown) {
			t.Errorf("%q: Why = %q", tt.cond, c.Why(e))
		}
		if c.Eval(e) != (tt.want == True) {
			t.Errorf("%q: Eval disagrees with Evaluate", tt.cond)
		}
	}
	empty := &Env{}
	for _, s := range []string{"ip in 0.0.0.0/0", "ip = 10.0.0.1", "expires < 2999-01-01T00:00:00Z", "attr.x = 1"} {
		c, _ := Parse(s)
		if got := c.Evaluate(empty); got != Unknown {
			t.Errorf("%q on an empty environment: %v, want Unknown", s, got)
		}
	}
}

// TestEvaluateCaseVariant: an attribute missing under its own name but
// present under a name that differs only in case is not missing: a tool
// decoding the arguments into a struct reads it. "attr.NAME?" is Unknown
// then, never False, whether the request's attributes come as a map or
// as a list.
func TestEvaluateCaseVariant(t *testing.T) {
	tests := []struct {
		cond string
		key  string // the request's one attribute, set to 9999
		want Result
	}{
		{"attr.amount? > 5000", "amount", True},
		{"attr.amount? > 5000", "other", False},
		{"attr.amount? > 5000", "amounts", False},
		{"attr.amount? > 5000", "AMOUNT", Unknown},
		{"attr.amount? > 5000", "Amount", Unknown},
		{"attr.amount? <= 5", "aMoUnT", Unknown},
		{"attr.AMOUNT? <= 5", "amount", Unknown},
		{"attr.risk? > 5000", "ris\u212a", Unknown},   // Kelvin sign
		{"attr.cost? > 5000", "co\u017ft", Unknown},   // long s
		{"attr.limit? > 5000", "l\u0131mit", Unknown}, // dotless i
		{"attr.limit? > 5000", "L\u0130MIT", Unknown}, // capital I with dot
		{"attr.amount > 5000", "AMOUNT", Unknown},
		{"attr.amount? = 9999", "AMOUNT", Unknown},
	}
	for _, tt := range tests {
		c, err := Parse(tt.cond)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.cond, err)
		}
		for name, e := range map[string]*Env{
			"map":  {Attributes: map[string]any{tt.key: 9999}},
			"list": {Attributes: map[string]any{tt.key: 9999}, List: []Attr{{tt.key, 9999}}},
		} {
			if got := c.Evaluate(e); got != tt.want {
				t.Errorf("%q on %q (%s): %v, want %v", tt.cond, tt.key, name, got, tt.want)
			}
			why := c.Why(e)
			if (why != "") != (tt.want == Unknown) || tt.key != "amount" && tt.want == Unknown && !strings.Contains(why, "another case") {
				t.Errorf("%q on %q (%s): Why = %q", tt.cond, tt.key, name, why)
			}
		}
	}
}

// TestSameFolded: SameFolded is the folding the middleware refuses
// duplicate members by, and takes every pair strings.EqualFold (which
// encoding/json matches struct fields by) takes, for every rune against
// every ASCII letter, digit, '_' and '-' (what an attribute name in a
// condition is made of) and for every pair of runes in one fold orbit.
func TestSameFolded(t *testing.T) {
	lu := func(s string) string { return strings.ToLower(strings.ToUpper(s)) }
	const nameBytes = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
	var folded [len(nameBytes)]string
	for i := range nameBytes {
		folded[i] = lu(nameBytes[i : i+1])
	}
	var nonASCII []string
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if utf16.IsSurrogate(r) {
			continue
		}
		rs := string(r)
		for s := unicode.SimpleFold(r); s != r; s = unicode.SimpleFold(s) {
			if !SameFolded(rs, string(s)) {
				t.Errorf("%U and %U: EqualFold but not SameFolded", r, s)
			}
		}
		fr := lu(rs)
		for i := range nameBytes {
			want := fr == folded[i]
			if got := SameFolded(rs, nameBytes[i:i+1]); got != want {
				t.Errorf("SameFolded(%U, %q) = %v, want %v", r, nameBytes[i], got, want)
			}
			if want && r >= utf8.RuneSelf && !slices.Contains(nonASCII, rs) {
				nonASCII = append(nonASCII, rs)
			}
		}
	}
	// The look-alikes of ASCII letters: the Kelvin sign, the long s and
	// the dotless and dotted I.
	if got := strings.Join(nonASCII, ""); got != "\u0130\u0131\u017f\u212a" {
		t.Errorf("non-ASCII runes folding onto ASCII: %+q", got)
	}
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"amount", "AMOUNT", true},
		{"amount", "amounts", false},
		{"amount", "amoun", false},
		{"", "", true},
		{"a\xff", "A\xfe", true}, // invalid UTF-8 folds to U+FFFD, as in strings.ToUpper
		{"a\xff", "a\ufffd", true},
		{"stra\u00dfe", "STRASSE", false}, // simple folding only
	} {
		if got := SameFolded(tt.a, tt.b); got != tt.want || got != (lu(tt.a) == lu(tt.b)) {
			t.Errorf("SameFolded(%+q, %+q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func FuzzSameFolded(f *testing.F) {
	f.Add("amount", "AMOUNT")
	f.Add("risk", "ris\u212a")
	f.Add("a\xff", "A\xfe")
	f.Fuzz(func(t *testing.T, a, b string) {
		got := SameFolded(a, b)
		if want := strings.ToLower(strings.ToUpper(a)) == strings.ToLower(strings.ToUpper(b)); got != want {
			t.Fatalf("SameFolded(%+q, %+q) = %v, want %v", a, b, got, want)
		}
		if strings.EqualFold(a, b) && !got {
			t.Fatalf("%+q and %+q: EqualFold but not SameFolded", a, b)
		}
		if utf8.ValidString(a) && utf8.ValidString(b) && (string(AppendFolded(nil, a)) == string(AppendFolded(nil, b))) != got {
			t.Fatalf("%+q and %+q: AppendFolded forms equal %v, SameFolded %v", a, b, !got, got)
		}
	})
}

func TestNumbersExact(t *testing.T) {
	tests := []struct {
		cond string
		v    any
		want Result
	}{
		{"attr.n > 9007199254740992", int64(9007199254740993), True},
		{"attr.n = 9007199254740993", int64(9007199254740992), False},
		// Text past 2^53 is judged only where reading it exactly and
		// reading it as the nearest float64 (as JavaScript or an any
		// does) agree: 9007199254740993 reads as 9007199254740992 there.
		{"attr.n = 9007199254740993", json.Number("9007199254740993"), Unknown},
		{"attr.n = 9007199254740992", json.Number("9007199254740993"), Unknown},
		{"attr.n > 9007199254740992", json.Number("9007199254740993"), Unknown},
		{"attr.n <= 9007199254740992", json.Number("9007199254740993"), Unknown},
		{"attr.n < -9007199254740992", json.Number("-9007199254740993"), Unknown},
		{"attr.n = 9007199254740992", json.Number("9007199254740992"), True},
		{"attr.n > 1000", json.Number("9007199254740993"), True},
		{"attr.n < 1e30", json.Number("18446744073709551615"), True},
		{"attr.n = 9007199254740993", int64(9007199254740993), True}, // a Go integer is what it is
		{"attr.n < 9223372036854775807", uint64(9223372036854775808), False},
		{"attr.n > 1e19", uint64(18446744073709551615), True},
		{"attr.n > 1e30", uint64(18446744073709551615), False},
		{"attr.n > 1000", json.Number("1e400"), Unknown},
		{"attr.n > 1000", json.Number("100000000000000000000000"), True},
		{"attr.n = 0.1", 0.1, True},
		{"attr.n = 0.1", json.Number("0.1"), True},
		// float32(0.1) holds another number, but prints as 0.1: judged
		// only where both readings agree.
		{"attr.n = 0.1", float32(0.1), Unknown},
		{"attr.n >= 0.7", float32(0.7), Unknown},
		{"attr.n > 0.7", float32(0.7), False},
		{"attr.n < 0.7", float32(0.6), True},
		{"attr.n = 100.5", float32(100.5), True}, // exact in binary
		{"attr.n > 1000", json.Number("1000.00000000000000001"), Unknown},
		{"attr.n > 1000", json.Number("1000.5"), True},
		{"attr.n >= 100.5", int8(100), False},
		{"attr.n <= -100.5", int64(-101), True},
		{"attr.n > -1", math.Copysign(0, -1), True},
		{"attr.n = 0", math.Copysign(0, -1), True},
		{"attr.n > 1", json.Number("-0"), False},
		{"attr.n > 1", json.Number("01"), Unknown},
		{"attr.n > 1", json.Number("1."), Unknown},
		{"attr.n > 1", json.Number(".5"), Unknown},
		{"attr.n > 1", json.Number("1e"), Unknown},
		{"attr.n > 1", json.Number("- 1"), Unknown},
		// Too small for a float64: it underflows to 0, or to a subnormal
		// that holds fewer digits than the text.
		{"attr.n > 0", json.Number("1e-400"), Unknown},
		{"attr.n = 0", json.Number("1e-400"), Unknown},
		{"attr.n < 0", json.Number("-1e-400"), Unknown},
		{"attr.n > 0", json.Number("1e-310"), True}, // subnormal, but on the right side of every operand
		{"attr.n > 0", json.Number("2e-324"), Unknown},
		{"attr.n > 1", json.Number("1e-400"), False},
		{"attr.n < 1e-300", json.Number("1e-400"), True},
		{"attr.n > 0", json.Number("5e-324"), True},
		{"attr.n > 0", json.Number("0e-400"), False},
		{"attr.n > 0", json.Number("0.0"), False},
		{"attr.n = 0", json.Number("-0e5"), True},
		{"attr.n > 0", 5e-324, True}, // a float64 is exactly what it holds
		{"attr.n = 0", float32(1e-45), False},
	}
	for _, tt := range tests {
		c, err := Parse(tt.cond)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.cond, err)
		}
		e := &Env{Attributes: map[string]any{"n": tt.v}}
		if got := c.Evaluate(e); got != tt.want {
			t.Errorf("%q with %T(%v): %v, want %v", tt.cond, tt.v, tt.v, got, tt.want)
		}
	}
}

// globRegexp is the meaning of a resource pattern as a regular
// expression: '*' is [^/]*, "**" is .*.
func globRegexp(prog string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(prog); i++ {
		switch prog[i] {
		case progStar:
			b.WriteString("[^/]*")
		case progStars:
			b.WriteString("(?s:.*)")
		default:
			b.WriteString(regexp.QuoteMeta(prog[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestResourcePatternMatch(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"mailbox:alice/*", "mailbox:alice/inbox", true},
		{"mailbox:alice/*", "mailbox:alice/", true},
		{"mailbox:alice/*", "mailbox:alice/inbox/2024", false},
		{"mailbox:alice/*", "mailbox:alice", false},
		{"mailbox:alice/**", "mailbox:alice/inbox/2024", true},
		{"mailbox:alice/**", "mailbox:alice", false},
		{"mailbox:*/inbox", "mailbox:bob/inbox", true},
		{"mailbox:*/inbox", "mailbox:bob/x/inbox", false},
		{"mailbox:**/inbox", "mailbox:bob/x/inbox", true},
		{"**a*b", "a/ab", true},
		{"**a*b", "a/a/b", false},
		{"*", "a/b", false},
		{"**", "a/b", true},
		{"**", "", true},
		{`a/\*`, "a/*", true},
		{`a/\*`, "a/b", false},
		{"repo:*/**/file", "repo:org/a/b/file", true},
		{"repo:*/**/file", "repo:org/file", false},
	}
	for _, tt := range tests {
		p, err := ParseResourcePattern(tt.pat)
		if err != nil {
			t.Fatalf("ParseResourcePattern(%q): %v", tt.pat, err)
		}
		if got := p.Match(tt.s); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
}

// TestResourcePatternMatchesRegexp checks the matcher against the regular
// expression it stands for, on every pattern and value over a small
// alphabet up to a length.
func TestResourcePatternMatchesRegexp(t *testing.T) {
	alpha := []string{"a", "b", "/", "*", "**"}
	var pats []string
	var gen func(string, int)
	gen = func(p string, n int) {
		if p != "" {
			pats = append(pats, p)
		}
		if n == 0 {
			return
		}
		for _, c := range alpha {
			if strings.HasSuffix(p, "*") && strings.HasPrefix(c, "*") {
				continue
			}
			gen(p+c, n-1)
		}
	}
	gen("", 4)
	var vals []string
	var genv func(string, int)
	genv = func(s string, n int) {
		vals = append(vals, s)
		if n == 0 {
			return
		}
		for _, c := range []string{"a", "b", "/"} {
			genv(s+c, n-1)
		}
	}
	genv("", 5)
	checked := 0
	for _, ps := range pats {
		p, err := parsePattern(ps, true)
		if err != nil {
			t.Fatalf("parse %q: %v", ps, err)
		}
		prog := p.prog
		if prog == "" {
			prog = ps
		}
		re := globRegexp(prog)
		for _, v := range vals {
			if got, want := p.Match(v), re.MatchString(v); got != want {
				t.Fatalf("%q.Match(%q) = %v, regexp says %v", ps, v, got, want)
			}
			checked++
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d pairs checked", checked)
	}
}

func FuzzResourcePattern(f *testing.F) {
	f.Add("mailbox:alice/*", "mailbox:alice/inbox")
	f.Add("**a*b", "a/ab")
	f.Add("repo:*/**/file", "repo:org/a/b/file")
	f.Fuzz(func(t *testing.T, pat, s string) {
		p, err := ParseResourcePattern(pat)
		if err != nil || p.prog == "" {
			return
		}
		if got, want := p.Match(s), globRegexp(p.prog).MatchString(s); got != want {
			t.Fatalf("%q.Match(%q) = %v, regexp says %v", pat, s, got, want)
		}
		// The policy index files a rule under its literal prefix.
		if pre := p.LiteralPrefix(); p.Match(s) && !strings.HasPrefix(s, pre) {
			t.Fatalf("%q matches %q, which does not start with its literal prefix %q", pat, s, pre)
		}
	})
}

func TestLiteralPrefix(t *testing.T) {
	for _, c := range []struct{ pat, want string }{
		{"acct-7-*", "acct-7-"},
		{"mailbox:alice/*", "mailbox:alice/"},
		{"repo:*/**/file", "repo:"},
		{`x\**`, "x*"},
		{"**", ""},
		{"*/inbox", ""},
		{"acct-7", ""}, // a literal: Literal, not a prefix
	} {
		p, err := ParseResourcePattern(c.pat)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.LiteralPrefix(); got != c.want {
			t.Errorf("%q.LiteralPrefix() = %q, want %q", c.pat, got, c.want)
		}
	}
}

func TestCheckResource(t *testing.T) {
	ok := []string{"", "mailbox:alice/inbox", "doc/1", "a..b/c.d", "50%25off", "caf\u00e9/menu", "/v1/payments/cust-1", "x%zz", "%", "https://a/b", "file:///a", "*://a/**", "a/"}
	for _, s := range ok {
		if msg := CheckResource(s); msg != "" {
			t.Errorf("CheckResource(%q) = %q, want ok", s, msg)
		}
	}
	bad := []string{
		"..", ".", "a/..", "a/./b", "a:..", "a/%2e%2e", "a/%2E%2e/b", "a/%252e%252e/b", "a/%25252E./b",
		"a/%u002e%u002E", "a%2fb", "a%2Fb", "a%252fb", "a\\b", "a%5cb", "a/%c0%ae%c0%ae", "a/\uff0e\uff0e",
		"a/\u2024\u2024", "a\uff0fb", "a\u200bb", "a\u00a0b", "a/%ef%bc%8e%ef%bc%8e", "a/%25252525252e",
		"a//b", "//a", "https://a//b", "file:////a",
	}
	for _, s := range bad {
		if CheckResource(s) == "" {
			t.Errorf("CheckResource(%q) accepted", s)
		}
	}
	if n := testing.AllocsPerRun(100, func() { CheckResource("mailbox:alice/inbox.2024") }); n != 0 {
		t.Errorf("CheckResource allocates %v times on plain ASCII", n)
	}
}

func TestValidName(t *testing.T) {
	for _, s := range []string{"payments.charge", "billing-bot", "a_b:c/d@e+f", strings.Repeat("a", MaxNameLen)} {
		if !ValidName(s) {
			t.Errorf("ValidName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a b", "caf\u00e9", "a\u200bb", "pay*", "a,b", `a"b`, "a\\b", strings.Repeat("a", MaxNameLen+1)} {
		if ValidName(s) {
			t.Errorf("ValidName(%q) = true", s)
		}
	}
}

func TestEvaluateAllocs(t *testing.T) {
	e := env()
	e.Attributes["s"] = "caf\u00e9"
	e.Attributes["RISK"] = 9999
	for _, s := range []string{"attr.amount > 1000", "attr.missing > 1", "attr.missing? > 1", "attr.risk? > 1", "attr.numstr > 1", `attr.s = "caf\u00e9"`, "attr.num < 9007199254740993", "resource in mailbox:alice/**"} {
		c, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { c.Evaluate(e) }); n != 0 {
			t.Errorf("%q: %v allocs", s, n)
		}
	}
}

// BenchmarkParseMinted parses the caveats every minted token carries and
// checks each is canonical, as token verification does.
func BenchmarkParseMinted(b *testing.B) {
	caveats := []string{"tenant = default", "agent = a1", "expires < 2026-12-07T04:00:57.089198806Z"}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range caveats {
			c, err := Parse(s)
			if err != nil {
				b.Fatal(err)
			}
			if buf = c.AppendCanonical(buf[:0]); string(buf) != s {
				b.Fatalf("%q is not canonical: %q", s, buf)
			}
		}
	}
}
