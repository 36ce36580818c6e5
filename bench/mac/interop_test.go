package mac_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	macaroon "gopkg.in/macaroon.v2"

	"github.com/agenttrust/agenttrust/internal/mac"
)

// checkerFor returns a gopkg.in/macaroon.v2 first-party checker that accepts
// exactly the given caveats, in order, and counts its calls.
func checkerFor(caveats [][]byte, calls *int) func(string) error {
	return func(c string) error {
		i := *calls
		*calls++
		if i >= len(caveats) || c != string(caveats[i]) {
			return fmt.Errorf("unexpected caveat %d %q", i, c)
		}
		return nil
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// randomSpec returns a random macaroon spec within the limits.
func randomSpec(rng *rand.Rand) spec {
	s := spec{RootKey: randBytes(rng, mac.MinRootKeySize+rng.IntN(48)), ID: randBytes(rng, rng.IntN(100))}
	if rng.IntN(2) == 0 {
		s.Location = fmt.Sprintf("https://svc%d.example/", rng.IntN(1000))
	}
	for range rng.IntN(12) {
		var c []byte
		if rng.IntN(3) == 0 {
			c = randBytes(rng, rng.IntN(300)) // binary, sometimes 2-byte lengths
		} else {
			c = fmt.Appendf(nil, "attr.k%d <= %d", rng.IntN(100), rng.IntN(1e6))
		}
		s.Caveats = append(s.Caveats, c)
	}
	return s
}

// TestInteropOursToLibrary: what Builder mints, the library unmarshals,
// re-marshals to the same bytes and verifies with the root key.
func TestInteropOursToLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 300 {
		s := randomSpec(rng)
		b, err := mac.New(s.RootKey, s.ID, s.Location)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Caveats {
			if err := b.AddCaveat(c); err != nil {
				t.Fatal(err)
			}
		}
		enc, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var lm macaroon.Macaroon
		if err := lm.UnmarshalBinary(enc); err != nil {
			t.Fatalf("%d: library UnmarshalBinary: %v", i, err)
		}
		calls := 0
		if err := lm.Verify(s.RootKey, checkerFor(s.Caveats, &calls), nil); err != nil {
			t.Fatalf("%d: library Verify: %v", i, err)
		}
		if calls != len(s.Caveats) {
			t.Fatalf("%d: library checked %d caveats, want %d", i, calls, len(s.Caveats))
		}
		if lm.Location() != s.Location || !bytes.Equal(lm.Id(), s.ID) {
			t.Fatalf("%d: library reads location %q id %x", i, lm.Location(), lm.Id())
		}
		again, err := lm.MarshalBinary()
		if err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("%d: library re-marshals differently: %v", i, err)
		}
		wrong := append([]byte{}, s.RootKey...)
		wrong[len(wrong)-1] ^= 0x80
		calls = 0
		if err := lm.Verify(wrong, checkerFor(s.Caveats, &calls), nil); err == nil {
			t.Fatalf("%d: library verified with the wrong root key", i)
		}
	}
}

// TestInteropLibraryToOurs: what the library mints, Decode reads field by
// field, Verify accepts, and AppendBinary reproduces byte for byte.
func TestInteropLibraryToOurs(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	var h mac.Hasher
	var m mac.Macaroon
	for i := range 300 {
		s := randomSpec(rng)
		lm := mintWithLibrary(t, s)
		enc, err := lm.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		s.Sig = lm.Signature()
		if err := decodeVerify(enc, s.RootKey, &m, &h); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		checkFields(t, &m, s)
		out, _ := m.AppendBinary(nil)
		if !bytes.Equal(out, enc) {
			t.Fatalf("%d: AppendBinary differs from library encoding", i)
		}
		wrong := append([]byte{}, s.RootKey...)
		wrong[0] ^= 1
		if err := mac.Verify(&m, wrong, &h); err != mac.ErrSignature {
			t.Fatalf("%d: Verify with wrong key = %v", i, err)
		}
	}
}

// TestInteropAttenuate: Attenuate on a library token equals the library's
// own AddFirstPartyCaveat byte for byte, over several offline hops, and both
// implementations verify the result with the original root key.
func TestInteropAttenuate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var h mac.Hasher
	for i := range 200 {
		s := randomSpec(rng)
		lm := mintWithLibrary(t, s)
		tok, err := lm.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		all := append([][]byte{}, s.Caveats...)
		for hop := range 1 + rng.IntN(3) {
			add := [][]byte{fmt.Appendf(nil, "hop = %d-%d", i, hop)}
			if rng.IntN(2) == 0 {
				add = append(add, []byte("tool in payments.charge"))
			}
			if len(all)+len(add) > mac.MaxCaveats {
				break
			}
			next, err := mac.Attenuate(nil, tok, &h, add...)
			if err != nil {
				t.Fatalf("%d/%d: Attenuate: %v", i, hop, err)
			}
			for _, c := range add {
				if err := lm.AddFirstPartyCaveat(c); err != nil {
					t.Fatal(err)
				}
			}
			libNext, err := lm.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(next, libNext) {
				t.Fatalf("%d/%d: Attenuate differs from library AddFirstPartyCaveat:\n got %x\nwant %x", i, hop, next, libNext)
			}
			all = append(all, add...)
			tok = next
		}
		var m mac.Macaroon
		if err := decodeVerify(tok, s.RootKey, &m, &h); err != nil {
			t.Fatalf("%d: our Verify after attenuation: %v", i, err)
		}
		var lm2 macaroon.Macaroon
		if err := lm2.UnmarshalBinary(tok); err != nil {
			t.Fatal(err)
		}
		calls := 0
		if err := lm2.Verify(s.RootKey, checkerFor(all, &calls), nil); err != nil {
			t.Fatalf("%d: library Verify after attenuation: %v", i, err)
		}
	}
}

// TestThirdPartyRejected: a library macaroon with a real third-party caveat
// is refused with ErrThirdPartyCaveat.
func TestThirdPartyRejected(t *testing.T) {
	s := vectorByName(t, "agenttrust 3 caveats")
	lm := mintWithLibrary(t, s)
	if err := lm.AddThirdPartyCaveat(derivedKey("third party key"), []byte("third party id"), "https://tp.example/"); err != nil {
		t.Fatal(err)
	}
	enc, err := lm.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var m mac.Macaroon
	if err := mac.Decode(enc, &m); err != mac.ErrThirdPartyCaveat {
		t.Fatalf("Decode = %v, want ErrThirdPartyCaveat", err)
	}
	if _, err := mac.Attenuate(nil, enc, nil, []byte("x")); err != mac.ErrThirdPartyCaveat {
		t.Fatalf("Attenuate = %v, want ErrThirdPartyCaveat", err)
	}
}

// TestLibraryLeniency documents encodings the library accepts and this
// package refuses, and why each matters.
func TestLibraryLeniency(t *testing.T) {
	s := vectorByName(t, "agenttrust 3 caveats")
	var lm macaroon.Macaroon

	// Trailing bytes are ignored by the library: two encodings, one token.
	if err := lm.UnmarshalBinary(append(append([]byte{}, s.Encoded...), "junk"...)); err != nil {
		t.Fatalf("library rejects trailing data: %v", err)
	}

	// An empty verification id makes a third-party-shaped caveat that the
	// library treats as first-party (isThirdParty is len(vid) > 0).
	emptyVID := raw(header, 2, 1, "c", 4, 0, 0, trailer)
	// UnmarshalBinary into a used Macaroon appends to its old caveats
	// (init resets location and id, not caveats): reuse needs a fresh value.
	if err := lm.UnmarshalBinary(emptyVID); err != nil {
		t.Fatal(err)
	}
	if n := len(lm.Caveats()); n != len(s.Caveats)+1 {
		t.Fatalf("library kept %d caveats after reuse, expected the old %d plus 1", n, len(s.Caveats))
	}
	lm = macaroon.Macaroon{}
	if err := lm.UnmarshalBinary(emptyVID); err != nil {
		t.Fatal(err)
	}
	if c := lm.Caveats(); len(c) != 1 || c[0].VerificationId == nil || len(c[0].VerificationId) != 0 {
		t.Fatalf("library caveats = %+v", c)
	}

	// Over-long varints decode to the same macaroon as the canonical form.
	overlong := raw(2, 2, 0x81, 0x00, "i", 0, trailer)
	if err := lm.UnmarshalBinary(overlong); err != nil || string(lm.Id()) != "i" {
		t.Fatalf("library on over-long varint: %v", err)
	}
	again, _ := lm.MarshalBinary()
	if bytes.Equal(again, overlong) {
		t.Fatal("expected the library to re-encode canonically")
	}
}
