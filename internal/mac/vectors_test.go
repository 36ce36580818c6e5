package mac

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/internal/mac/mactest"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from goldenSpecs")

const vectorsFile = "testdata/vectors.json"

type spec = mactest.Spec

func loadVectors(tb testing.TB) []spec { return mactest.Load(tb, vectorsFile) }

func vectorByName(tb testing.TB, name string) spec { return mactest.ByName(tb, vectorsFile, name) }

var derivedKey = mactest.DerivedKey

func strs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// goldenSpecs are the inputs of the golden vectors. -update writes their
// encodings and signatures with Builder; the bench module's
// TestGoldenVectorsLibrary proves gopkg.in/macaroon.v2 mints every one
// byte for byte, so a vector is never only this package's opinion.
func goldenSpecs() []spec {
	readmeKey := []byte("this is our super secret key; only we should know it")
	readmeID := []byte("we used our secret key")
	// An identifier shaped like agenttrust's: version, token id, parent key
	// id, master-key id.
	atID := append([]byte{1}, derivedKey("token id")[:16]...)
	atID = append(atID, derivedKey("parent key id")[:16]...)
	atID = append(atID, "mk-2026-01"...)
	atCaveats := strs("expires < 2026-11-22T05:00:00Z", "agent = billing-bot", "tool in payments.charge,calendar.*")

	var maxCaveats [][]byte
	for i := range MaxCaveats {
		maxCaveats = append(maxCaveats, fmt.Appendf(nil, "attr.n%02d = %d", i, i))
	}
	// One caveat sized so that the whole encoding is exactly MaxSize:
	// header 1+(1+1+3)+1, caveat 1+2+n+1, trailer 35.
	fill := []byte("attr.note = " + strings.Repeat("x", MaxSize-46-len("attr.note = ")))

	return []spec{
		{Name: "libmacaroons readme", RootKey: readmeKey, ID: readmeID, Location: "http://mybank/"},
		{Name: "libmacaroons readme 1 caveat", RootKey: readmeKey, ID: readmeID, Location: "http://mybank/",
			Caveats: strs("account = 3735928559")},
		{Name: "libmacaroons readme 3 caveats", RootKey: readmeKey, ID: readmeID, Location: "http://mybank/",
			Caveats: strs("account = 3735928559", "time < 2020-01-01T00:00", "email = alice@example.org")},
		{Name: "agenttrust 3 caveats", RootKey: derivedKey("agenttrust root key 1"), ID: atID, Caveats: atCaveats},
		{Name: "agenttrust delegated", RootKey: derivedKey("agenttrust root key 1"), ID: atID, Location: "agenttrust",
			Caveats: append(append([][]byte{}, atCaveats...), strs("hop = 01JC4Z9H6T3V8QF0M2W5XYRBKD",
				"resource in mailbox:alice/*", "attr.amount <= 50", "ip in 10.0.0.0/8")...)},
		{Name: "empty id and caveat", RootKey: derivedKey("root key 2"), ID: []byte{}, Caveats: [][]byte{{}}},
		{Name: "binary caveats", RootKey: derivedKey("root key 3"), ID: []byte{0, 0xff, 0x80},
			Caveats: [][]byte{{0}, {0xff, 0xfe, 0x00, 0x80}, derivedKey("binary caveat")}},
		{Name: "two-byte lengths", RootKey: derivedKey("root key 4"), ID: bytes.Repeat([]byte("i"), 128),
			Location: strings.Repeat("l", 130), Caveats: [][]byte{bytes.Repeat([]byte("c"), 200), []byte("short")}},
		{Name: "max caveats", RootKey: derivedKey("root key 5"), ID: []byte("max caveats"), Caveats: maxCaveats},
		{Name: "max size", RootKey: derivedKey("root key 6"), ID: []byte("max"), Caveats: [][]byte{fill}},
	}
}

func writeVectors(t *testing.T) {
	var vs []mactest.Vector
	for _, s := range goldenSpecs() {
		b, err := New(s.RootKey, s.ID, s.Location)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Caveats {
			if err := b.AddCaveat(c); err != nil {
				t.Fatal(err)
			}
		}
		if s.Encoded, err = b.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
		sig := b.Signature()
		s.Sig = sig[:]
		vs = append(vs, mactest.NewVector(s))
	}
	if err := mactest.WriteVectors(vectorsFile, vs); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenVectors checks this package against the golden vectors,
// which bench/mac checks against gopkg.in/macaroon.v2 (regenerate with
// -update, then run bench/mac).
func TestGoldenVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	specs := loadVectors(t)
	if len(specs) != len(goldenSpecs()) {
		t.Fatalf("%s has %d vectors, goldenSpecs %d: run with -update", vectorsFile, len(specs), len(goldenSpecs()))
	}
	var h Hasher
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) {
			// Mint with Builder: same bytes, same signature.
			b, err := New(s.RootKey, s.ID, s.Location)
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
			if !bytes.Equal(enc, s.Encoded) {
				t.Fatalf("Builder encoding differs:\n got %x\nwant %x", enc, s.Encoded)
			}
			if sig := b.Signature(); !bytes.Equal(sig[:], s.Sig) {
				t.Fatalf("Builder signature %x, want %x", sig, s.Sig)
			}
			if b.Size() != len(s.Encoded) {
				t.Errorf("Builder.Size = %d, want %d", b.Size(), len(s.Encoded))
			}

			// Decode and verify.
			var m Macaroon
			if err := Decode(s.Encoded, &m); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkFields(t, &m, s)
			if err := Verify(&m, s.RootKey, &h); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wrong := append([]byte{}, s.RootKey...)
			wrong[0] ^= 1
			if err := Verify(&m, wrong, &h); err != ErrSignature {
				t.Fatalf("Verify with wrong key: %v, want ErrSignature", err)
			}
			out, _ := m.AppendBinary(nil)
			if !bytes.Equal(out, s.Encoded) {
				t.Fatalf("AppendBinary after Decode differs from input")
			}
			if m.Size() != len(s.Encoded) {
				t.Errorf("Macaroon.Size = %d, want %d", m.Size(), len(s.Encoded))
			}
		})
	}
}

// checkFields compares a decoded macaroon with its spec.
func checkFields(t *testing.T, m *Macaroon, s spec) { t.Helper(); mactest.CheckFields(t, m, s) }

// TestLibmacaroonsReadme pins the published libmacaroons example
// signatures, independently of both Go implementations.
func TestLibmacaroonsReadme(t *testing.T) {
	for name, want := range map[string]string{
		"libmacaroons readme":          "e3d9e02908526c4c0039ae15114115d97fdd68bf2ba379b342aaf0f617d0552f",
		"libmacaroons readme 1 caveat": "1efe4763f290dbce0c1d08477367e11f4eee456a64933cf662d79772dbb82128",
	} {
		s := vectorByName(t, name)
		if got := hex.EncodeToString(s.Sig); got != want {
			t.Errorf("%s: signature %s, want %s", name, got, want)
		}
	}
}
