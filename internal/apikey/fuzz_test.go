package apikey

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, accepts only strings of the
// documented shape, and that whatever it accepts round-trips.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	v := loadVectors(f)
	for _, tc := range v.Valid {
		f.Add(tc.Key)
	}
	for _, tc := range v.Invalid {
		f.Add(tc.Input)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			if !strings.HasPrefix(err.Error(), "agenttrust: ") {
				t.Fatalf("error %q lacks the agenttrust: prefix", err)
			}
			if k != (Key{}) {
				t.Fatal("non-zero Key returned with an error")
			}
			return
		}
		if len(s) != Len || !strings.HasPrefix(s, Prefix) {
			t.Fatalf("accepted %q of the wrong shape", s)
		}
		for i := len(Prefix); i < Len; i++ {
			if digit(s[i]) < 0 {
				t.Fatalf("accepted %q with a non-base62 character at %d", s, i)
			}
		}
		var want [ChecksumLen]byte
		putChecksum(want[:], checksum(s[len(Prefix):len(Prefix)+RandomLen]))
		if s[len(Prefix)+RandomLen:] != string(want[:]) {
			t.Fatalf("accepted %q with checksum %s, want %s", s, s[len(Prefix)+RandomLen:], want)
		}
		if k.Reveal() != s || k.Hash() != Hash(s) {
			t.Fatal("Key does not round-trip")
		}
		if strings.Contains(k.String(), s[len(Prefix):]) {
			t.Fatal("String leaks the key")
		}
	})
}
