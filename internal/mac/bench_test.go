package mac

import "testing"

// BenchmarkDecodeVerify3 decodes and verifies golden vector "agenttrust
// 3 caveats"; the bench module's bench/mac runs it beside
// gopkg.in/macaroon.v2 on the same token, so one run shows the ratio.

func BenchmarkDecodeVerify3(b *testing.B) {
	s := vectorByName(b, "agenttrust 3 caveats")
	var h Hasher
	var m Macaroon
	b.ReportAllocs()
	b.SetBytes(int64(len(s.Encoded)))
	for b.Loop() {
		if err := Decode(s.Encoded, &m); err != nil {
			b.Fatal(err)
		}
		if err := Verify(&m, s.RootKey, &h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeReject is the cost of refusing a forged signature.
func BenchmarkDecodeReject(b *testing.B) {
	s := vectorByName(b, "agenttrust 3 caveats")
	bad := append([]byte{}, s.Encoded...)
	bad[len(bad)-1] ^= 1
	var h Hasher
	var m Macaroon
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(bad, &m); err != nil {
			b.Fatal(err)
		}
		if err := Verify(&m, s.RootKey, &h); err != ErrSignature {
			b.Fatal(err)
		}
	}
}

func BenchmarkAttenuate(b *testing.B) {
	s := vectorByName(b, "agenttrust 3 caveats")
	var h Hasher
	dst := make([]byte, 0, 512)
	hop := []byte("hop = 01JC4Z9H6T3V8QF0M2W5XYRBKD")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Attenuate(dst[:0], s.Encoded, &h, hop); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMint3(b *testing.B) {
	s := vectorByName(b, "agenttrust 3 caveats")
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		bl, err := New(s.RootKey, s.ID, "")
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range s.Caveats {
			if err := bl.AddCaveat(c); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := bl.AppendBinary(dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
