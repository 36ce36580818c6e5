package mac_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	macaroon "gopkg.in/macaroon.v2"

	"github.com/agenttrust/agenttrust/internal/mac"
)

// FuzzDecodeLibrary differential-tests Decode against gopkg.in/macaroon.v2:
// whatever Decode accepts, the library accepts with the same fields, both
// re-encode it to the same bytes, re-signing it with Builder verifies in
// both, and Attenuate extends it exactly as the library does.
func FuzzDecodeLibrary(f *testing.F) {
	// Seeds above 4 KiB (the 16 KiB vector, the too-large case) are left
	// out: coverage found from them sends workers into minimizations that
	// stall fuzzing for tens of seconds. Unit tests cover those boundaries.
	for _, s := range loadVectors(f) {
		if len(s.Encoded) <= 4096 {
			f.Add(s.Encoded)
		}
	}
	// Seeds that the library accepts and Decode refuses (internal/mac's
	// decodeCases hold the rest).
	f.Add(raw(header, trailer, 0))
	f.Add(raw(2, 2, 0x81, 0x00, "i", 0, trailer))
	f.Add(raw(header, 2, 1, "c", 4, 0, 0, trailer))
	fuzzKey := derivedKey("fuzz root key")
	var h mac.Hasher
	f.Fuzz(func(t *testing.T, b []byte) {
		var m mac.Macaroon
		err := mac.Decode(b, &m)
		if len(b) > mac.MaxSize {
			// Rejected before parsing; skip the library so that the
			// fuzzer gains nothing by growing inputs.
			if err != mac.ErrTooLarge {
				t.Fatalf("%d bytes: %v, want ErrTooLarge", len(b), err)
			}
			return
		}
		var lm macaroon.Macaroon
		libErr := lm.UnmarshalBinary(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "agenttrust: ") {
				t.Fatalf("error %q lacks the agenttrust: prefix", err)
			}
			if !errors.Is(err, mac.ErrMalformed) && err != mac.ErrTooLarge && err != mac.ErrTooManyCaveats && err != mac.ErrThirdPartyCaveat {
				t.Fatalf("unexpected error class: %v", err)
			}
			if m.NumCaveats() != 0 || m.ID() != nil {
				t.Fatal("Macaroon not reset after error")
			}
			return
		}
		if len(b) > mac.MaxSize || m.NumCaveats() > mac.MaxCaveats {
			t.Fatalf("accepted %d bytes, %d caveats", len(b), m.NumCaveats())
		}
		if libErr != nil {
			t.Fatalf("Decode accepts what the library rejects (%v): %x", libErr, b)
		}

		// Same fields as the library.
		if lm.Location() != string(m.Location()) || !bytes.Equal(lm.Id(), m.ID()) || !bytes.Equal(lm.Signature(), sigSlice(&m)) {
			t.Fatalf("fields differ from the library's for %x", b)
		}
		lcs := lm.Caveats()
		if len(lcs) != m.NumCaveats() {
			t.Fatalf("library sees %d caveats, Decode %d", len(lcs), m.NumCaveats())
		}
		for i, c := range lcs {
			if !bytes.Equal(c.Id, m.Caveat(i)) || len(c.VerificationId) != 0 || c.Location != "" {
				t.Fatalf("caveat %d differs from the library's", i)
			}
		}

		// Canonical: both re-encode to the input.
		out, _ := m.AppendBinary(nil)
		if !bytes.Equal(out, b) || m.Size() != len(b) {
			t.Fatalf("AppendBinary does not reproduce the input")
		}
		if libOut, err := lm.MarshalBinary(); err != nil || !bytes.Equal(libOut, b) {
			t.Fatalf("library re-encodes differently: %v", err)
		}

		// Re-sign the same content with a known key: both verify it.
		bl, err := mac.New(fuzzKey, m.ID(), string(m.Location()))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range m.Caveats() {
			if err := bl.AddCaveat(c); err != nil {
				t.Fatal(err)
			}
		}
		signed, _ := bl.MarshalBinary()
		if !bytes.Equal(signed[:len(signed)-mac.SignatureSize], b[:len(b)-mac.SignatureSize]) {
			t.Fatal("Builder encodes the same content differently")
		}
		var sm mac.Macaroon
		if err := mac.Decode(signed, &sm); err != nil {
			t.Fatal(err)
		}
		if err := mac.Verify(&sm, fuzzKey, &h); err != nil {
			t.Fatalf("Verify of re-signed token: %v", err)
		}
		var slm macaroon.Macaroon
		if err := slm.UnmarshalBinary(signed); err != nil {
			t.Fatal(err)
		}
		if err := slm.Verify(fuzzKey, func(string) error { return nil }, nil); err != nil {
			t.Fatalf("library Verify of re-signed token: %v", err)
		}

		// Attenuate matches the library, or fails on a limit.
		next, err := mac.Attenuate(nil, b, &h, []byte("hop = fuzz"))
		switch {
		case err == mac.ErrTooManyCaveats || err == mac.ErrTooLarge:
			return
		case err != nil:
			t.Fatalf("Attenuate: %v", err)
		}
		if err := lm.AddFirstPartyCaveat([]byte("hop = fuzz")); err != nil {
			t.Fatal(err)
		}
		if libNext, _ := lm.MarshalBinary(); !bytes.Equal(next, libNext) {
			t.Fatal("Attenuate differs from the library")
		}
	})
}

func sigSlice(m *mac.Macaroon) []byte {
	s := m.Signature()
	return s[:]
}
