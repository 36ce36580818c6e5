package mac_test

import (
	"testing"

	macaroon "gopkg.in/macaroon.v2"

	"github.com/agenttrust/agenttrust/internal/mac"
)

// The two benchmarks below decode and verify the same 3-caveat token
// (golden vector "agenttrust 3 caveats"), so one run shows the ratio.

func BenchmarkDecodeVerify3(b *testing.B) {
	s := vectorByName(b, "agenttrust 3 caveats")
	var h mac.Hasher
	var m mac.Macaroon
	b.ReportAllocs()
	b.SetBytes(int64(len(s.Encoded)))
	for b.Loop() {
		if err := mac.Decode(s.Encoded, &m); err != nil {
			b.Fatal(err)
		}
		if err := mac.Verify(&m, s.RootKey, &h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLibraryUnmarshalVerify3(b *testing.B) {
	s := vectorByName(b, "agenttrust 3 caveats")
	check := func(string) error { return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(s.Encoded)))
	for b.Loop() {
		var m macaroon.Macaroon
		if err := m.UnmarshalBinary(s.Encoded); err != nil {
			b.Fatal(err)
		}
		if err := m.Verify(s.RootKey, check, nil); err != nil {
			b.Fatal(err)
		}
	}
}
