// Package mactest holds the macaroon codec's golden vectors and the
// helpers that read them, shared by internal/mac's tests and the bench
// module's interoperability tests against gopkg.in/macaroon.v2. It is for
// tests only, and it does not import internal/mac so that package's own
// tests can use it.
package mactest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"unicode/utf8"
)

// Vector is one golden vector as testdata/vectors.json stores it. The
// identifier and caveats are JSON strings when they are valid UTF-8 and
// hex otherwise.
type Vector struct {
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

// Spec is a decoded vector: a macaroon's inputs and, once minted, its
// encoding and signature.
type Spec struct {
	Name     string
	RootKey  []byte
	ID       []byte
	Location string
	Caveats  [][]byte
	Encoded  []byte
	Sig      []byte
}

// Spec decodes v.
func (v Vector) Spec(tb testing.TB) Spec {
	tb.Helper()
	s := Spec{Name: v.Name, Location: v.Location, RootKey: mustHex(tb, v.RootKeyHex),
		Encoded: mustHex(tb, v.EncodedHex), Sig: mustHex(tb, v.SigHex)}
	if v.ID != nil {
		s.ID = []byte(*v.ID)
	} else {
		s.ID = mustHex(tb, v.IDHex)
	}
	for _, c := range v.Caveats {
		s.Caveats = append(s.Caveats, []byte(c))
	}
	for _, c := range v.CaveatsHex {
		s.Caveats = append(s.Caveats, mustHex(tb, c))
	}
	return s
}

// NewVector is the stored form of s, whose Encoded and Sig are set.
func NewVector(s Spec) Vector {
	v := Vector{Name: s.Name, RootKeyHex: hex.EncodeToString(s.RootKey), Location: s.Location,
		EncodedHex: hex.EncodeToString(s.Encoded), SigHex: hex.EncodeToString(s.Sig)}
	if utf8.Valid(s.ID) {
		id := string(s.ID)
		v.ID = &id
	} else {
		v.IDHex = hex.EncodeToString(s.ID)
	}
	allText := true
	for _, c := range s.Caveats {
		allText = allText && utf8.Valid(c)
	}
	for _, c := range s.Caveats {
		if allText {
			v.Caveats = append(v.Caveats, string(c))
		} else {
			v.CaveatsHex = append(v.CaveatsHex, hex.EncodeToString(c))
		}
	}
	return v
}

// WriteVectors stores vs in file as indented JSON.
func WriteVectors(file string, vs []Vector) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vs); err != nil {
		return err
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Load reads the golden vectors in file; it fails tb if there are none.
func Load(tb testing.TB, file string) []Spec {
	tb.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	var vs []Vector
	if err := json.Unmarshal(data, &vs); err != nil {
		tb.Fatal(err)
	}
	if len(vs) == 0 {
		tb.Fatal("no golden vectors")
	}
	specs := make([]Spec, len(vs))
	for i, v := range vs {
		specs[i] = v.Spec(tb)
	}
	return specs
}

// ByName returns the golden vector of file named name.
func ByName(tb testing.TB, file, name string) Spec {
	tb.Helper()
	for _, s := range Load(tb, file) {
		if s.Name == name {
			return s
		}
	}
	tb.Fatalf("no golden vector %q", name)
	return Spec{}
}

// DerivedKey is a fixed 32-byte key named by label.
func DerivedKey(label string) []byte {
	k := sha256.Sum256([]byte(label))
	return k[:]
}

// Decoded is what a decoded macaroon shows of itself.
type Decoded interface {
	Location() []byte
	ID() []byte
	NumCaveats() int
	Caveat(i int) []byte
	Caveats() [][]byte
	Signature() [32]byte
}

// CheckFields compares a decoded macaroon with its spec; a nil s.Sig is
// not compared.
func CheckFields(tb testing.TB, m Decoded, s Spec) {
	tb.Helper()
	if string(m.Location()) != s.Location {
		tb.Errorf("Location = %q, want %q", m.Location(), s.Location)
	}
	if !bytes.Equal(m.ID(), s.ID) {
		tb.Errorf("ID = %x, want %x", m.ID(), s.ID)
	}
	if m.NumCaveats() != len(s.Caveats) || len(m.Caveats()) != len(s.Caveats) {
		tb.Fatalf("NumCaveats = %d, want %d", m.NumCaveats(), len(s.Caveats))
	}
	for i, c := range s.Caveats {
		if !bytes.Equal(m.Caveat(i), c) || !bytes.Equal(m.Caveats()[i], c) {
			tb.Errorf("caveat %d = %q, want %q", i, m.Caveat(i), c)
		}
	}
	if sig := m.Signature(); s.Sig != nil && !bytes.Equal(sig[:], s.Sig) {
		tb.Errorf("Signature = %x, want %x", sig, s.Sig)
	}
}

// Raw concatenates bytes (ints), byte slices and strings into an
// encoding, for hand-made malformed inputs.
func Raw(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b = append(b, byte(p))
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, p...)
		default:
			panic(fmt.Sprintf("Raw: %T", p))
		}
	}
	return b
}
