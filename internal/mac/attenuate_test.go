package mac

import (
	"bytes"
	"testing"
)

// TestAttenuateOnlyNarrows: after attenuation, any token that drops,
// reorders or replaces a caveat while keeping the signature fails Verify.
// That is the macaroon guarantee delegation relies on.
func TestAttenuateOnlyNarrows(t *testing.T) {
	s := vectorByName(t, "agenttrust 3 caveats")
	tok, err := Attenuate(nil, s.Encoded, nil, []byte("hop = h1"), []byte("attr.amount <= 50"))
	if err != nil {
		t.Fatal(err)
	}
	var m Macaroon
	if err := decodeVerify(tok, s.RootKey, &m, nil); err != nil {
		t.Fatal(err)
	}
	caveats := append([][]byte{}, m.Caveats()...)
	sig := m.Signature()
	forge := func(cs [][]byte) []byte {
		b := appendHeader(nil, nil, s.ID)
		for _, c := range cs {
			b = appendCaveat(b, c)
		}
		return appendTrailer(b, &sig)
	}
	var variants [][][]byte
	for i := range caveats {
		drop := append(append([][]byte{}, caveats[:i]...), caveats[i+1:]...)
		variants = append(variants, drop)
		replaced := append([][]byte{}, caveats...)
		replaced[i] = []byte("attr.amount <= 5000")
		variants = append(variants, replaced)
		if i+1 < len(caveats) {
			swapped := append([][]byte{}, caveats...)
			swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
			variants = append(variants, swapped)
		}
	}
	variants = append(variants, nil)
	for _, v := range variants {
		if err := decodeVerify(forge(v), s.RootKey, &m, nil); err != ErrSignature {
			t.Errorf("forged caveats %q: %v, want ErrSignature", v, err)
		}
	}
	// The original (wider) token is still valid on its own: narrowing makes
	// a new token; revocation, not attenuation, kills the parent.
	if err := decodeVerify(s.Encoded, s.RootKey, &m, nil); err != nil {
		t.Fatal(err)
	}
}

func TestAttenuateErrors(t *testing.T) {
	s := vectorByName(t, "max caveats")
	dst := []byte("keep")
	out, err := Attenuate(dst, s.Encoded, nil, []byte("x"))
	if err != ErrTooManyCaveats || string(out) != "keep" {
		t.Errorf("65th caveat: %v, dst %q", err, out)
	}
	big := vectorByName(t, "max size")
	if _, err := Attenuate(nil, big.Encoded, nil, nil); err != ErrTooLarge {
		t.Errorf("past MaxSize: %v", err)
	}
	if _, err := Attenuate(nil, []byte{2, 0}, nil, []byte("x")); err != ErrUnexpectedField {
		t.Errorf("malformed token: %v", err)
	}
	// No caveats: the token is copied unchanged.
	small := vectorByName(t, "agenttrust 3 caveats")
	out, err = Attenuate(nil, small.Encoded, nil)
	if err != nil || !bytes.Equal(out, small.Encoded) {
		t.Errorf("Attenuate with no caveats: %v", err)
	}
}

// TestVerifyBefore: the signature VerifyBefore reports before caveat i is
// the signature of the same macaroon cut after caveat i-1, that is what
// its holder at that point held; a mismatch or bad marks report nothing.
func TestVerifyBefore(t *testing.T) {
	s := vectorByName(t, "agenttrust 3 caveats")
	tok, err := Attenuate(nil, s.Encoded, nil, []byte("hop = h1"), []byte("attr.amount <= 50"), []byte("hop = h2"))
	if err != nil {
		t.Fatal(err)
	}
	var m Macaroon
	if err := Decode(tok, &m); err != nil {
		t.Fatal(err)
	}
	at := []int{0, 3, 5}
	before := make([][SignatureSize]byte, len(at))
	if err := VerifyBefore(&m, s.RootKey, nil, at, before); err != nil {
		t.Fatal(err)
	}
	for k, i := range at {
		b, err := New(s.RootKey, s.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range m.Caveats()[:i] {
			if err := b.AddCaveat(c); err != nil {
				t.Fatal(err)
			}
		}
		if b.Signature() != before[k] {
			t.Errorf("before caveat %d: not the signature of the macaroon cut there", i)
		}
	}
	for _, bad := range [][]int{{3, 3}, {3, 0}, {-1}, {6}} {
		if err := VerifyBefore(&m, s.RootKey, nil, bad, make([][SignatureSize]byte, 2)); err != ErrMarks {
			t.Errorf("marks %v: %v, want ErrMarks", bad, err)
		}
	}
	if err := VerifyBefore(&m, s.RootKey, nil, at, make([][SignatureSize]byte, 2)); err != ErrMarks {
		t.Errorf("short before: %v, want ErrMarks", err)
	}
	wrong := bytes.Repeat([]byte{7}, len(s.RootKey))
	if err := VerifyBefore(&m, wrong, nil, at, before); err != ErrSignature {
		t.Fatalf("wrong root key: %v, want ErrSignature", err)
	}
	for k := range before {
		if before[k] != ([SignatureSize]byte{}) {
			t.Errorf("before[%d] kept a signature of a macaroon that did not verify", k)
		}
	}
}
