package cedar

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust/internal/cond"
)

// TestFoldKey holds foldKey to the folding agenttrust's conditions use:
// every rune folds as strings.ToLower(strings.ToUpper(r)), and two names
// share a key exactly when cond.SameFolded holds between them.
func TestFoldKey(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		if got, want := string(cond.AppendFolded(nil, s)), strings.ToLower(strings.ToUpper(s)); got != want {
			t.Fatalf("cond.AppendFolded(%U) = %q, want %q", r, got, want)
		}
	}
	for _, tc := range foldPairs {
		if got, want := bytes.Equal(cond.AppendFolded(nil, tc[0]), cond.AppendFolded(nil, tc[1])), cond.SameFolded(tc[0], tc[1]); got != want {
			t.Errorf("%q, %q: one key %v, SameFolded %v", tc[0], tc[1], got, want)
		}
	}
	// A short name folds in place, without allocating.
	k := "ris\u212a_Amount"
	if n := testing.AllocsPerRun(100, func() {
		var buf [128]byte
		_ = cond.AppendFolded(buf[:0], k)
	}); n != 0 {
		t.Errorf("foldKey allocates %v times", n)
	}
}

var foldPairs = [][2]string{
	{"amount", "AMOUNT"}, {"amount", "aMoUnT"}, {"risk", "ris\u212a"}, {"cost", "co\u017ft"},
	{"limit", "l\u0131mit"}, {"limit", "l\u0130mit"}, {"limit", "LIMIT"}, {"ss", "\u00df"},
	{"amount", "amounts"}, {"a", "b"}, {"\xff", "\ufffd"}, {"\xff", "\xfe"}, {"", ""}, {"x", ""},
}

func FuzzFoldKey(f *testing.F) {
	for _, tc := range foldPairs {
		f.Add(tc[0], tc[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := bytes.Equal(cond.AppendFolded(nil, a), cond.AppendFolded(nil, b)), cond.SameFolded(a, b); got != want {
			t.Fatalf("%q, %q: one key %v, SameFolded %v", a, b, got, want)
		}
	})
}
