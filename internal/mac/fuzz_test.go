package mac

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzDecode: whatever Decode refuses, it refuses with a typed error and
// a reset Macaroon; whatever it accepts is within the limits, re-encodes
// to the same bytes, verifies once re-signed with Builder, and Attenuate
// extends it. The bench module's FuzzDecodeLibrary runs the same inputs
// against gopkg.in/macaroon.v2.
func FuzzDecode(f *testing.F) {
	// Seeds above 4 KiB (the 16 KiB vector, the too-large case) are left
	// out: coverage found from them sends workers into minimizations that
	// stall fuzzing for tens of seconds. Unit tests cover those boundaries.
	for _, s := range loadVectors(f) {
		if len(s.Encoded) <= 4096 {
			f.Add(s.Encoded)
		}
	}
	for _, tc := range decodeCases {
		if len(tc.in) <= 4096 {
			f.Add(tc.in)
		}
	}
	fuzzKey := derivedKey("fuzz root key")
	var h Hasher
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Macaroon
		err := Decode(b, &m)
		if len(b) > MaxSize {
			// Rejected before parsing: the fuzzer gains nothing by
			// growing inputs.
			if err != ErrTooLarge {
				t.Fatalf("%d bytes: %v, want ErrTooLarge", len(b), err)
			}
			return
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "agenttrust: ") {
				t.Fatalf("error %q lacks the agenttrust: prefix", err)
			}
			if !errors.Is(err, ErrMalformed) && err != ErrTooLarge && err != ErrTooManyCaveats && err != ErrThirdPartyCaveat {
				t.Fatalf("unexpected error class: %v", err)
			}
			if m.NumCaveats() != 0 || m.ID() != nil {
				t.Fatal("Macaroon not reset after error")
			}
			return
		}
		if len(b) > MaxSize || m.NumCaveats() > MaxCaveats {
			t.Fatalf("accepted %d bytes, %d caveats", len(b), m.NumCaveats())
		}
		// The offsets locate the id and every caveat in the input.
		if !bytes.Equal(b[m.IDOffset():][:len(m.ID())], m.ID()) {
			t.Fatal("IDOffset does not locate the id")
		}
		for i := range m.NumCaveats() {
			if !bytes.Equal(b[m.CaveatOffset(i):][:len(m.Caveat(i))], m.Caveat(i)) {
				t.Fatalf("CaveatOffset(%d) does not locate the caveat", i)
			}
		}
		// Canonical: it re-encodes to the input.
		out, _ := m.AppendBinary(nil)
		if !bytes.Equal(out, b) || m.Size() != len(b) {
			t.Fatalf("AppendBinary does not reproduce the input")
		}

		// Re-sign the same content with a known key: it verifies.
		bl, err := New(fuzzKey, m.ID(), string(m.Location()))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range m.Caveats() {
			if err := bl.AddCaveat(c); err != nil {
				t.Fatal(err)
			}
		}
		signed, _ := bl.MarshalBinary()
		if !bytes.Equal(signed[:len(signed)-SignatureSize], b[:len(b)-SignatureSize]) {
			t.Fatal("Builder encodes the same content differently")
		}
		var sm Macaroon
		if err := Decode(signed, &sm); err != nil {
			t.Fatal(err)
		}
		if err := Verify(&sm, fuzzKey, &h); err != nil {
			t.Fatalf("Verify of re-signed token: %v", err)
		}

		// Attenuate adds the caveat, or fails on a limit.
		next, err := Attenuate(nil, b, &h, []byte("hop = fuzz"))
		switch {
		case err == ErrTooManyCaveats || err == ErrTooLarge:
			return
		case err != nil:
			t.Fatalf("Attenuate: %v", err)
		}
		var nm Macaroon
		if err := Decode(next, &nm); err != nil || nm.NumCaveats() != m.NumCaveats()+1 || string(nm.Caveat(m.NumCaveats())) != "hop = fuzz" {
			t.Fatalf("Attenuate made %x (%v)", next, err)
		}
	})
}
