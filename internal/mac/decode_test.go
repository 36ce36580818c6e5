package mac

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust/internal/mac/mactest"
)

var raw = mactest.Raw

var (
	testSig = bytes.Repeat([]byte{0xaa}, SignatureSize)
	trailer = raw(0, 6, 32, testSig)
	// header is version, identifier "i", EOS.
	header = raw(2, 2, 1, "i", 0)
)

// manyCaveats encodes n caveats "c" under header.
func manyCaveats(n int) []byte {
	b := append([]byte{}, header...)
	for range n {
		b = append(b, 2, 1, 'c', 0)
	}
	return append(b, trailer...)
}

// decodeCases are the strictness table; FuzzDecode is seeded from them.
// Where this package is stricter than gopkg.in/macaroon.v2, the bench
// module's TestLibraryLeniency says why.
var decodeCases = []struct {
	name string
	in   []byte
	want error
}{
	{"minimal", raw(header, trailer), nil},
	{"location and caveat", raw(2, 1, 1, "l", 2, 1, "i", 0, 2, 1, "c", 0, trailer), nil},
	{"64 caveats", manyCaveats(64), nil},

	{"empty", nil, ErrTruncated},
	{"v1 hex", raw("0", header[1:], trailer), ErrVersion},
	{"version 0", raw(0, header[1:], trailer), ErrVersion},
	{"version 3", raw(3, header[1:], trailer), ErrVersion},
	{"json", []byte(`{"i":"x"}`), ErrVersion},
	{"version only", raw(2), ErrTruncated},
	{"no identifier", raw(2, 0, trailer), ErrUnexpectedField},
	{"location only", raw(2, 1, 1, "l", 0, trailer), ErrUnexpectedField},
	{"empty location", raw(2, 1, 0, 2, 1, "i", 0, trailer), ErrNonCanonical},
	{"duplicate location", raw(2, 1, 1, "a", 1, 1, "b", 2, 1, "i", 0, trailer), ErrDuplicateField},
	{"duplicate identifier", raw(2, 2, 1, "i", 2, 1, "j", 0, trailer), ErrDuplicateField},
	{"identifier before location", raw(2, 2, 1, "i", 1, 1, "l", 0, trailer), ErrUnexpectedField},
	{"unknown field in header", raw(2, 2, 1, "i", 3, 1, "x", 0, trailer), ErrUnknownField},
	{"verification id in header", raw(2, 2, 1, "i", 4, 1, "x", 0, trailer), ErrUnexpectedField},
	{"signature in header", raw(2, 2, 1, "i", 6, 32, testSig), ErrUnexpectedField},
	{"unknown field in caveat", raw(header, 2, 1, "c", 5, 1, "x", 0, trailer), ErrUnknownField},
	{"field 127 in caveat", raw(header, 2, 1, "c", 127, 1, "x", 0, trailer), ErrUnknownField},
	{"field 128 starts caveat", raw(header, 0x80, 1, 1, "x", 0, trailer), ErrUnknownField},
	{"huge field type", raw(header, 0xff, 0xff, 0xff, 0x7f, 0, trailer), ErrUnknownField},
	{"duplicate caveat identifier", raw(header, 2, 1, "c", 2, 1, "d", 0, trailer), ErrDuplicateField},
	{"caveat without identifier", raw(header, 4, 1, "v", 0, trailer), ErrUnexpectedField},
	{"signature as caveat", raw(header, 6, 32, testSig, 0, trailer), ErrUnexpectedField},
	{"first-party caveat with location", raw(header, 1, 1, "l", 2, 1, "c", 0, trailer), ErrUnexpectedField},
	{"third-party caveat", raw(header, 1, 1, "l", 2, 1, "c", 4, 1, "v", 0, trailer), ErrThirdPartyCaveat},
	{"third-party caveat without location", raw(header, 2, 1, "c", 4, 1, "v", 0, trailer), ErrThirdPartyCaveat},
	{"empty verification id", raw(header, 2, 1, "c", 4, 0, 0, trailer), ErrThirdPartyCaveat},
	{"over-long length", raw(2, 2, 0x81, 0x00, "i", 0, trailer), ErrNonCanonical},
	{"over-long field type", raw(2, 0x82, 0x00, 1, "i", 0, trailer), ErrNonCanonical},
	{"over-long EOS", raw(2, 2, 1, "i", 0x80, 0x00, trailer), ErrNonCanonical},
	{"over-long end of caveats", raw(header, 0x80, 0x00, 6, 32, testSig), ErrNonCanonical},
	{"over-long signature length", raw(header, 0, 6, 0xa0, 0x00, testSig), ErrNonCanonical},
	{"three-byte over-long", raw(2, 2, 0x81, 0x80, 0x00, "i", 0, trailer), ErrNonCanonical},
	{"length past end", raw(2, 2, 100, "i"), ErrTruncated},
	{"truncated varint", raw(2, 2, 0x81), ErrTruncated},
	{"huge length", raw(2, 2, 0xff, 0xff, 0xff, 0x7f, "i"), ErrTruncated},
	{"no caveat terminator", raw(header, 2, 1, "c", 0), ErrTruncated},
	{"no signature", raw(header, 0), ErrTruncated},
	{"signature cut", raw(header, 0, 6, 32, testSig[:31]), ErrTruncated},
	{"short signature", raw(header, 0, 6, 31, testSig[:31]), ErrSignatureLength},
	{"long signature", raw(header, 0, 6, 33, testSig, 0), ErrSignatureLength},
	{"empty signature", raw(header, 0, 6, 0), ErrSignatureLength},
	{"identifier instead of signature", raw(header, 0, 2, 32, testSig), ErrUnexpectedField},
	{"unknown field instead of signature", raw(header, 0, 7, 32, testSig), ErrUnknownField},
	{"trailing zero", raw(header, trailer, 0), ErrTrailingData},
	{"two macaroons", raw(header, trailer, header, trailer), ErrTrailingData},
	{"65 caveats", manyCaveats(65), ErrTooManyCaveats},
	// header L+5 bytes, trailer 35: L = MaxSize-39 makes MaxSize+1 bytes.
	{"too large", raw(appendHeader(nil, nil, make([]byte, MaxSize-39)), trailer), ErrTooLarge},
}

func TestDecodeTable(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			var m Macaroon
			// Start from a dirty Macaroon: Decode must reset it.
			if err := Decode(manyCaveats(3), &m); err != nil {
				t.Fatal(err)
			}
			err := Decode(tc.in, &m)
			if err != tc.want {
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "agenttrust: ") {
					t.Errorf("error %q lacks the agenttrust: prefix", err)
				}
				if m.NumCaveats() != 0 || m.ID() != nil || m.Location() != nil || m.Signature() != ([32]byte{}) {
					t.Errorf("Macaroon not zero after error")
				}
			} else {
				out, _ := m.AppendBinary(nil)
				if !bytes.Equal(out, tc.in) {
					t.Errorf("round trip: got %x, want %x", out, tc.in)
				}
			}
		})
	}
}

func TestErrorClasses(t *testing.T) {
	for _, err := range []error{ErrVersion, ErrTruncated, ErrTrailingData, ErrUnknownField,
		ErrDuplicateField, ErrUnexpectedField, ErrNonCanonical, ErrSignatureLength} {
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%v does not match ErrMalformed", err)
		}
	}
	for _, err := range []error{ErrTooLarge, ErrTooManyCaveats, ErrThirdPartyCaveat, ErrSignature, ErrRootKey, ErrZeroBuilder} {
		if errors.Is(err, ErrMalformed) {
			t.Errorf("%v matches ErrMalformed", err)
		}
		if !strings.HasPrefix(err.Error(), "agenttrust: ") {
			t.Errorf("error %q lacks the agenttrust: prefix", err)
		}
	}
}

// TestMaxSizeBoundary: exactly MaxSize decodes, one byte more does not.
func TestMaxSizeBoundary(t *testing.T) {
	s := vectorByName(t, "max size")
	if len(s.Encoded) != MaxSize {
		t.Fatalf("max size vector is %d bytes, want %d", len(s.Encoded), MaxSize)
	}
	var m Macaroon
	if err := Decode(s.Encoded, &m); err != nil {
		t.Fatal(err)
	}
	if err := Verify(&m, s.RootKey, nil); err != nil {
		t.Fatal(err)
	}
	if err := Decode(append(s.Encoded[:len(s.Encoded):len(s.Encoded)], 0), &m); err != ErrTooLarge {
		t.Fatalf("MaxSize+1: %v, want ErrTooLarge", err)
	}
}

// decodeVerify is the full acceptance test for one encoding.
func decodeVerify(b, rootKey []byte, m *Macaroon, h *Hasher) error {
	if err := Decode(b, m); err != nil {
		return err
	}
	return Verify(m, rootKey, h)
}

// signedEqual reports whether m carries exactly s's signed content:
// identifier, caveats and signature (everything but the location).
func signedEqual(m *Macaroon, s spec) bool {
	if !bytes.Equal(m.ID(), s.ID) || m.NumCaveats() != len(s.Caveats) {
		return false
	}
	for i, c := range s.Caveats {
		if !bytes.Equal(m.Caveat(i), c) {
			return false
		}
	}
	sig := m.Signature()
	return bytes.Equal(sig[:], s.Sig)
}

// TestBitFlips flips every bit of every golden vector (a sample of the bits
// of the 16 KiB one). Each flip must be rejected by Decode or Verify, with
// one documented exception: the location is not covered by the signature
// (same as libmacaroons), so a flip inside the location payload decodes and
// verifies with a different location and unchanged signed content. Callers
// that care about the location must compare it.
func TestBitFlips(t *testing.T) {
	var h Hasher
	var m Macaroon
	for _, s := range loadVectors(t) {
		var byDecode, byVerify, locationOnly int
		locStart, locEnd := -1, -1
		if s.Location != "" {
			// version, field type, 1- or 2-byte length, payload.
			locStart = 1 + 1 + varintSize(len(s.Location))
			locEnd = locStart + len(s.Location)
		}
		b := append([]byte{}, s.Encoded...)
		for i := range b {
			if len(b) > 4096 && i > 512 && i < len(b)-512 && i%61 != 0 {
				continue
			}
			for bit := range 8 {
				b[i] ^= 1 << bit
				err := decodeVerify(b, s.RootKey, &m, &h)
				switch {
				case err == nil:
					if i < locStart || i >= locEnd || string(m.Location()) == s.Location || !signedEqual(&m, s) {
						t.Fatalf("%s: flip of byte %d bit %d accepted", s.Name, i, bit)
					}
					locationOnly++
				case errors.Is(err, ErrSignature):
					byVerify++
				default:
					byDecode++
				}
				b[i] ^= 1 << bit
			}
		}
		if want := 8 * len(s.Location); locationOnly != want {
			t.Errorf("%s: %d location-only flips, want %d", s.Name, locationOnly, want)
		}
		t.Logf("%s: %d flips rejected by Decode, %d by Verify, %d changed only the unsigned location",
			s.Name, byDecode, byVerify, locationOnly)
	}
}

// TestRandomMutations applies random edits to golden vectors. A mutated
// encoding may only be accepted if its signed content is unchanged (the
// location is unsigned), and whatever Decode accepts re-encodes to itself.
func TestRandomMutations(t *testing.T) {
	specs := loadVectors(t)
	rng := rand.New(rand.NewPCG(2026, 11))
	var h Hasher
	var m Macaroon
	iterations := 30000
	if testing.Short() {
		iterations = 3000
	}
	accepted := 0
	for i := range iterations {
		s := specs[rng.IntN(len(specs))]
		if len(s.Encoded) > 4096 && rng.IntN(8) != 0 {
			continue // the 16 KiB vector is slow to verify; sample it less
		}
		b := mutate(rng, append([]byte{}, s.Encoded...), specs)
		if bytes.Equal(b, s.Encoded) {
			continue
		}
		err := Decode(b, &m)
		if err == nil {
			out, _ := m.AppendBinary(nil)
			if !bytes.Equal(out, b) {
				t.Fatalf("iteration %d: accepted %x does not re-encode to itself", i, b)
			}
			err = Verify(&m, s.RootKey, &h)
		}
		if err == nil {
			accepted++
			if !signedEqual(&m, s) {
				t.Fatalf("iteration %d: mutation of %q with different signed content verified: %x", i, s.Name, b)
			}
		}
	}
	t.Logf("%d mutations accepted, all with unchanged signed content (location edits)", accepted)
}

func mutate(rng *rand.Rand, b []byte, specs []spec) []byte {
	for range 1 + rng.IntN(3) {
		if len(b) == 0 {
			return b
		}
		i := rng.IntN(len(b))
		switch rng.IntN(8) {
		case 0: // replace a byte
			b[i] = byte(rng.Uint32())
		case 1: // insert a byte
			b = append(b[:i], append([]byte{byte(rng.Uint32())}, b[i:]...)...)
		case 2: // delete a byte
			b = append(b[:i], b[i+1:]...)
		case 3: // truncate
			b = b[:i]
		case 4: // duplicate a chunk
			j := i + rng.IntN(min(16, len(b)-i)+1)
			b = append(b[:j], append(append([]byte{}, b[i:j]...), b[j:]...)...)
		case 5: // small increment, as to a length
			b[i] += byte(1 + rng.IntN(3))
		case 6: // splice in a chunk of another vector
			o := specs[rng.IntN(len(specs))].Encoded
			k := rng.IntN(len(o))
			chunk := o[k : k+rng.IntN(min(40, len(o)-k)+1)]
			b = append(b[:i], append(append([]byte{}, chunk...), b[i:]...)...)
		case 7: // swap two bytes
			j := rng.IntN(len(b))
			b[i], b[j] = b[j], b[i]
		}
	}
	return b
}

// TestDecodeAliases checks Decode's promise not to copy: the slices alias b.
func TestDecodeAliases(t *testing.T) {
	s := vectorByName(t, "agenttrust 3 caveats")
	b := append([]byte{}, s.Encoded...)
	var m Macaroon
	if err := Decode(b, &m); err != nil {
		t.Fatal(err)
	}
	idx := bytes.Index(b, s.Caveats[0])
	b[idx] = 'X'
	if m.Caveat(0)[0] != 'X' {
		t.Fatal("caveat does not alias the input buffer")
	}
	if cap(m.Caveat(0)) != len(m.Caveat(0)) {
		t.Fatal("caveat slice capacity reaches past its field: an append would overwrite the input")
	}
}

func TestZeroValues(t *testing.T) {
	var m Macaroon
	if err := Verify(&m, derivedKey("k"), nil); err != ErrSignature {
		t.Errorf("Verify(zero Macaroon) = %v, want ErrSignature", err)
	}
	var b Builder
	if err := b.AddCaveat([]byte("x")); err != ErrZeroBuilder {
		t.Errorf("zero Builder AddCaveat = %v", err)
	}
	if _, err := b.AppendBinary(nil); err != ErrZeroBuilder {
		t.Errorf("zero Builder AppendBinary = %v", err)
	}
}

func TestRootKeyLength(t *testing.T) {
	if _, err := New(make([]byte, MinRootKeySize-1), []byte("id"), ""); err != ErrRootKey {
		t.Errorf("New with short key: %v", err)
	}
	s := vectorByName(t, "agenttrust 3 caveats")
	var m Macaroon
	if err := Decode(s.Encoded, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range [][]byte{nil, {}, s.RootKey[:MinRootKeySize-1]} {
		if err := Verify(&m, k, nil); err != ErrRootKey {
			t.Errorf("Verify with %d-byte key: %v, want ErrRootKey", len(k), err)
		}
	}
}

func TestBuilderLimits(t *testing.T) {
	key := derivedKey("limits")
	if _, err := New(key, make([]byte, MaxSize), ""); err != ErrTooLarge {
		t.Errorf("New with huge id: %v", err)
	}
	b, err := New(key, []byte("id"), "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxCaveats {
		if err := b.AddCaveat(fmt.Appendf(nil, "c%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := b.MarshalBinary()
	if err := b.AddCaveat([]byte("one too many")); err != ErrTooManyCaveats {
		t.Fatalf("65th caveat: %v", err)
	}
	after, _ := b.MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Fatal("failed AddCaveat changed the Builder")
	}

	b, _ = New(key, []byte("id"), "")
	if err := b.AddCaveat(make([]byte, MaxSize)); err != ErrTooLarge {
		t.Fatalf("huge caveat: %v", err)
	}
	// Fill to exactly MaxSize, then one more byte must fail.
	if err := b.AddCaveat(make([]byte, MaxSize-b.Size()-4)); err != nil {
		t.Fatal(err)
	}
	if b.Size() != MaxSize {
		t.Fatalf("Size = %d, want %d", b.Size(), MaxSize)
	}
	if err := b.AddCaveat(nil); err != ErrTooLarge {
		t.Fatalf("caveat past MaxSize: %v", err)
	}
	enc, _ := b.MarshalBinary()
	var m Macaroon
	if err := decodeVerify(enc, key, &m, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRedaction(t *testing.T) {
	s := vectorByName(t, "agenttrust 3 caveats")
	var m Macaroon
	if err := Decode(s.Encoded, &m); err != nil {
		t.Fatal(err)
	}
	b, err := New(s.RootKey, s.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	bsig := b.Signature()
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, m), fmt.Sprintf(verb, &m), fmt.Sprintf(verb, b), fmt.Sprintf(verb, *b),
			fmt.Sprintf(verb, struct{ M *Macaroon }{&m}))
	}
	j, err := json.Marshal(struct {
		M *Macaroon
		B *Builder
	}{&m, b})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "m", m, "mp", &m, "b", b)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "m", m, "mp", &m, "b", b)
	outs = append(outs, buf.String())
	for _, sig := range [][]byte{s.Sig, bsig[:]} {
		hexSig, hexUpper := fmt.Sprintf("%x", sig), fmt.Sprintf("%X", sig)
		for _, out := range outs {
			if strings.Contains(out, hexSig) || strings.Contains(out, hexUpper) || strings.Contains(out, string(sig[:8])) {
				t.Errorf("signature leaked: %s", out)
			}
		}
	}
}

// TestConcurrentVerify shows the intended use of Hasher: one per goroutine,
// from a sync.Pool. Run with -race.
func TestConcurrentVerify(t *testing.T) {
	specs := loadVectors(t)
	pool := sync.Pool{New: func() any { return new(Hasher) }}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var m Macaroon
			for i := range 200 {
				s := specs[(g+i)%len(specs)]
				h := pool.Get().(*Hasher)
				err := decodeVerify(s.Encoded, s.RootKey, &m, h)
				pool.Put(h)
				if err != nil {
					t.Errorf("%s: %v", s.Name, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestAllocs(t *testing.T) {
	s := vectorByName(t, "agenttrust 3 caveats")
	var h Hasher
	var m Macaroon
	bad := append([]byte{}, s.Encoded...)
	bad[len(bad)-1] ^= 1
	garbage := raw(header, 2, 1, "c", 5, 1, "x", 0, trailer)
	dst := make([]byte, 0, 1024)
	hop := []byte("hop = 01JC4Z9H6T3V8QF0M2W5XYRBKD")
	allocs := testing.AllocsPerRun(200, func() {
		if err := decodeVerify(s.Encoded, s.RootKey, &m, &h); err != nil {
			t.Fatal(err)
		}
		if err := decodeVerify(bad, s.RootKey, &m, &h); err != ErrSignature {
			t.Fatal(err)
		}
		if err := Decode(garbage, &m); err != ErrUnknownField {
			t.Fatal(err)
		}
		out, err := Attenuate(dst[:0], s.Encoded, &h, hop)
		if err != nil || len(out) == 0 {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode+Verify+Attenuate: %v allocs per run, want 0", allocs)
	}
}
