package cond

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// canonicalSeeds are texts on both sides of the line: the shapes minted
// tokens carry and their near misses.
var canonicalSeeds = []string{
	"tenant = default", "agent = a1", "hop = h-1", "tool = payments.charge", "session = s:1",
	"on_behalf_of = user@example.com", "resource = acct-1", "tool in a,b",
	"expires < 2026-12-07T04:00:57.089198806Z", "expires <= 2026-12-07T04:00:57Z",
	"expires < 2026-12-07T04:00:57.5Z", "expires < 0000-01-01T00:00:00Z", "expires < 9999-12-31T23:59:59.999999999Z",
	// Not canonical, or not valid.
	"expires < 2026-12-07T04:00:57.50Z", "expires < 2026-12-07T04:00:57.000Z", "expires < 2026-12-07T04:00:57.Z",
	"expires < 2026-02-30T04:00:57Z", "expires < 2026-12-07T24:00:00Z", "expires < 2026-12-07T04:00:60Z",
	"expires < 2026-12-07T04:00:57+00:00", "expires < 2026-12-07t04:00:57z", "expires > 2026-12-07T04:00:57Z",
	"expires < 2026-12-07T04:00:57.0123456789Z", "expires  < 2026-12-07T04:00:57Z", "expires < 2026-13-07T04:00:57Z",
	`tenant = "default"`, `tenant = "de fault"`, "tenant = de,fault", "tenant  = default", "tenant = default ",
	" tenant = default", "tenant =  default", "agent = a b", "agent = é", "agent = e\u0301", "tenant = é",
	"agent = " + string(make([]byte, 300)), "agent = " + strings.Repeat("a", MaxNameLen+1), "agent = a!b", "tool = pay$", "hop in a", "agent = -", "agent = a\x00", "tenant = a\x7f",
	"attr.amount < 50", "budget 50 USD on attr.amount", "ip = 10.0.0.1", "tenant = ", "tenant", "",
}

// ParseCanonical accepts exactly the texts that parse and are their
// condition's canonical text, and returns what Parse returns.
func TestParseCanonicalAgreesWithParse(t *testing.T) {
	for _, s := range canonicalSeeds {
		checkCanonical(t, s)
	}
}

func FuzzParseCanonical(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add(s)
	}
	f.Fuzz(checkCanonical)
}

func checkCanonical(t *testing.T, s string) {
	got, err := ParseCanonical(s)
	want, perr := Parse(s)
	canonical := perr == nil && want.String() == s
	switch {
	case err == nil && !canonical:
		t.Fatalf("ParseCanonical(%q) accepted a text that is not canonical (Parse: %v)", s, perr)
	case err != nil && canonical:
		t.Fatalf("ParseCanonical(%q) refused its canonical text: %v", s, err)
	case err != nil && perr == nil && !errors.Is(err, ErrNotCanonical):
		t.Fatalf("ParseCanonical(%q) = %v, want ErrNotCanonical", s, err)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("ParseCanonical(%q) = %#v, Parse = %#v", s, got, want)
	}
}

// The short path is what minted tokens take: a test that every shape a
// token is minted with goes through it, so that the benchmark below
// measures it.
func TestParseMintedShapes(t *testing.T) {
	for _, s := range []string{"tenant = default", "agent = a1", "hop = h1", "expires < 2026-12-07T04:00:57.089198806Z"} {
		if _, ok := parseMinted(s); !ok {
			t.Errorf("parseMinted(%q) refused a minted shape", s)
		}
	}
	for _, s := range []string{"expires < 2026-12-07T04:00:57.10Z", `agent = "a1"`, "resource = acct-1"} {
		if _, ok := parseMinted(s); ok {
			t.Errorf("parseMinted(%q) accepted it; the general path must decide", s)
		}
	}
	when, _ := time.Parse(time.RFC3339Nano, "2026-12-07T04:00:57.089198806Z")
	if c, _ := parseMinted("expires <= 2026-12-07T04:00:57.089198806Z"); c.Op != OpLe || !c.when.Equal(when) {
		t.Errorf("parseMinted read %v %v", c.Op, c.when)
	}
}

// BenchmarkParseCanonicalMinted is BenchmarkParseMinted through
// ParseCanonical.
func BenchmarkParseCanonicalMinted(b *testing.B) {
	caveats := []string{"tenant = default", "agent = a1", "expires < 2026-12-07T04:00:57.089198806Z"}
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range caveats {
			if _, err := ParseCanonical(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}
