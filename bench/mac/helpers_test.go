package mac_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	macaroon "gopkg.in/macaroon.v2"

	"github.com/agenttrust/agenttrust/internal/mac"
)

// vectorsFile holds the codec's golden vectors, in the core module.
const vectorsFile = "../../internal/mac/testdata/vectors.json"

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

// mintWithLibrary mints s with gopkg.in/macaroon.v2.
func mintWithLibrary(tb testing.TB, s spec) *macaroon.Macaroon {
	tb.Helper()
	m, err := macaroon.New(s.rootKey, s.id, s.location, macaroon.V2)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range s.caveats {
		if err := m.AddFirstPartyCaveat(c); err != nil {
			tb.Fatal(err)
		}
	}
	return m
}

// decodeVerify is the full acceptance test for one encoding.
func decodeVerify(b, rootKey []byte, m *mac.Macaroon, h *mac.Hasher) error {
	if err := mac.Decode(b, m); err != nil {
		return err
	}
	return mac.Verify(m, rootKey, h)
}

// checkFields compares a decoded macaroon with its spec.
func checkFields(t *testing.T, m *mac.Macaroon, s spec) {
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

// raw concatenates bytes, byte slices and strings into an encoding.
func raw(parts ...any) []byte {
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
			panic(fmt.Sprintf("raw: %T", p))
		}
	}
	return b
}

var (
	testSig = bytes.Repeat([]byte{0xaa}, mac.SignatureSize)
	trailer = raw(0, 6, 32, testSig)
	// header is version, identifier "i", EOS.
	header = raw(2, 2, 1, "i", 0)
)
