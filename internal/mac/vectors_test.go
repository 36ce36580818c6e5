package mac

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from goldenSpecs")

const vectorsFile = "testdata/vectors.json"

// vector is one golden vector. The identifier and caveats are stored as
// JSON strings when they are valid UTF-8 and as hex otherwise.
type vector struct {
	Name       string   `json:"name"`
	RootKeyHex string   `json:"root_key_hex"`
	ID         *string  `json:"id,omitempty"`
	IDHex      string   `json:"id_hex,omitempty"`
	Location   string   `json:"location"`
	Caveats    []string `json:"caveats,omitempty"`
	CaveatsHex []string `json:"caveats_hex,omitempty"`
	EncodedHex string   `json:"encoded_hex"`
	SigHex     string   `json:"signature_hex"`
}

// spec is a decoded vector.
type spec struct {
	name     string
	rootKey  []byte
	id       []byte
	location string
	caveats  [][]byte
	encoded  []byte
	sig      []byte
}

func (v vector) spec(tb testing.TB) spec {
	tb.Helper()
	s := spec{name: v.Name, location: v.Location, rootKey: mustHex(tb, v.RootKeyHex),
		encoded: mustHex(tb, v.EncodedHex), sig: mustHex(tb, v.SigHex)}
	if v.ID != nil {
		s.id = []byte(*v.ID)
	} else {
		s.id = mustHex(tb, v.IDHex)
	}
	for _, c := range v.Caveats {
		s.caveats = append(s.caveats, []byte(c))
	}
	for _, c := range v.CaveatsHex {
		s.caveats = append(s.caveats, mustHex(tb, c))
	}
	return s
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func loadVectors(tb testing.TB) []spec {
	tb.Helper()
	data, err := os.ReadFile(vectorsFile)
	if err != nil {
		tb.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		tb.Fatal(err)
	}
	if len(vs) == 0 {
		tb.Fatal("no golden vectors")
	}
	specs := make([]spec, len(vs))
	for i, v := range vs {
		specs[i] = v.spec(tb)
	}
	return specs
}

// vectorByName returns the named golden vector.
func vectorByName(tb testing.TB, name string) spec {
	tb.Helper()
	for _, s := range loadVectors(tb) {
		if s.name == name {
			return s
		}
	}
	tb.Fatalf("no golden vector %q", name)
	return spec{}
}

func derivedKey(label string) []byte {
	k := sha256.Sum256([]byte(label))
	return k[:]
}

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
		{name: "libmacaroons readme", rootKey: readmeKey, id: readmeID, location: "http://mybank/"},
		{name: "libmacaroons readme 1 caveat", rootKey: readmeKey, id: readmeID, location: "http://mybank/",
			caveats: strs("account = 3735928559")},
		{name: "libmacaroons readme 3 caveats", rootKey: readmeKey, id: readmeID, location: "http://mybank/",
			caveats: strs("account = 3735928559", "time < 2020-01-01T00:00", "email = alice@example.org")},
		{name: "agenttrust 3 caveats", rootKey: derivedKey("agenttrust root key 1"), id: atID, caveats: atCaveats},
		{name: "agenttrust delegated", rootKey: derivedKey("agenttrust root key 1"), id: atID, location: "agenttrust",
			caveats: append(append([][]byte{}, atCaveats...), strs("hop = 01JC4Z9H6T3V8QF0M2W5XYRBKD",
				"resource in mailbox:alice/*", "attr.amount <= 50", "ip in 10.0.0.0/8")...)},
		{name: "empty id and caveat", rootKey: derivedKey("root key 2"), id: []byte{}, caveats: [][]byte{{}}},
		{name: "binary caveats", rootKey: derivedKey("root key 3"), id: []byte{0, 0xff, 0x80},
			caveats: [][]byte{{0}, {0xff, 0xfe, 0x00, 0x80}, derivedKey("binary caveat")}},
		{name: "two-byte lengths", rootKey: derivedKey("root key 4"), id: bytes.Repeat([]byte("i"), 128),
			location: strings.Repeat("l", 130), caveats: [][]byte{bytes.Repeat([]byte("c"), 200), []byte("short")}},
		{name: "max caveats", rootKey: derivedKey("root key 5"), id: []byte("max caveats"), caveats: maxCaveats},
		{name: "max size", rootKey: derivedKey("root key 6"), id: []byte("max"), caveats: [][]byte{fill}},
	}
}

func writeVectors(t *testing.T) {
	var vs []vector
	for _, s := range goldenSpecs() {
		b, err := New(s.rootKey, s.id, s.location)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.caveats {
			if err := b.AddCaveat(c); err != nil {
				t.Fatal(err)
			}
		}
		enc, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		sig := b.Signature()
		v := vector{Name: s.name, RootKeyHex: hex.EncodeToString(s.rootKey), Location: s.location,
			EncodedHex: hex.EncodeToString(enc), SigHex: hex.EncodeToString(sig[:])}
		if utf8.Valid(s.id) {
			id := string(s.id)
			v.ID = &id
		} else {
			v.IDHex = hex.EncodeToString(s.id)
		}
		allText := true
		for _, c := range s.caveats {
			allText = allText && utf8.Valid(c)
		}
		for _, c := range s.caveats {
			if allText {
				v.Caveats = append(v.Caveats, string(c))
			} else {
				v.CaveatsHex = append(v.CaveatsHex, hex.EncodeToString(c))
			}
		}
		vs = append(vs, v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vectorsFile, buf.Bytes(), 0o644); err != nil {
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
		t.Run(s.name, func(t *testing.T) {
			// Mint with Builder: same bytes, same signature.
			b, err := New(s.rootKey, s.id, s.location)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range s.caveats {
				if err := b.AddCaveat(c); err != nil {
					t.Fatal(err)
				}
			}
			enc, err := b.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, s.encoded) {
				t.Fatalf("Builder encoding differs:\n got %x\nwant %x", enc, s.encoded)
			}
			if sig := b.Signature(); !bytes.Equal(sig[:], s.sig) {
				t.Fatalf("Builder signature %x, want %x", sig, s.sig)
			}
			if b.Size() != len(s.encoded) {
				t.Errorf("Builder.Size = %d, want %d", b.Size(), len(s.encoded))
			}

			// Decode and verify.
			var m Macaroon
			if err := Decode(s.encoded, &m); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkFields(t, &m, s)
			if err := Verify(&m, s.rootKey, &h); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wrong := append([]byte{}, s.rootKey...)
			wrong[0] ^= 1
			if err := Verify(&m, wrong, &h); err != ErrSignature {
				t.Fatalf("Verify with wrong key: %v, want ErrSignature", err)
			}
			out, _ := m.AppendBinary(nil)
			if !bytes.Equal(out, s.encoded) {
				t.Fatalf("AppendBinary after Decode differs from input")
			}
			if m.Size() != len(s.encoded) {
				t.Errorf("Macaroon.Size = %d, want %d", m.Size(), len(s.encoded))
			}
		})
	}
}

// checkFields compares a decoded macaroon with its spec.
func checkFields(t *testing.T, m *Macaroon, s spec) {
	t.Helper()
	if string(m.Location()) != s.location {
		t.Errorf("Location = %q, want %q", m.Location(), s.location)
	}
	if !bytes.Equal(m.ID(), s.id) {
		t.Errorf("ID = %x, want %x", m.ID(), s.id)
	}
	if m.NumCaveats() != len(s.caveats) || len(m.Caveats()) != len(s.caveats) {
		t.Fatalf("NumCaveats = %d, want %d", m.NumCaveats(), len(s.caveats))
	}
	for i, c := range s.caveats {
		if !bytes.Equal(m.Caveat(i), c) || !bytes.Equal(m.Caveats()[i], c) {
			t.Errorf("caveat %d = %q, want %q", i, m.Caveat(i), c)
		}
	}
	if sig := m.Signature(); s.sig != nil && !bytes.Equal(sig[:], s.sig) {
		t.Errorf("Signature = %x, want %x", sig, s.sig)
	}
}

// TestLibmacaroonsReadme pins the published libmacaroons example
// signatures, independently of both Go implementations.
func TestLibmacaroonsReadme(t *testing.T) {
	for name, want := range map[string]string{
		"libmacaroons readme":          "e3d9e02908526c4c0039ae15114115d97fdd68bf2ba379b342aaf0f617d0552f",
		"libmacaroons readme 1 caveat": "1efe4763f290dbce0c1d08477367e11f4eee456a64933cf662d79772dbb82128",
	} {
		s := vectorByName(t, name)
		if got := hex.EncodeToString(s.sig); got != want {
			t.Errorf("%s: signature %s, want %s", name, got, want)
		}
	}
}
