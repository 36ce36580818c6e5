package mac_test

import (
	"bytes"
	"testing"

	macaroon "gopkg.in/macaroon.v2"

	"github.com/agenttrust/agenttrust/internal/mac"
	"github.com/agenttrust/agenttrust/internal/mac/mactest"
)

// vectorsFile holds the codec's golden vectors, in the core module.
const vectorsFile = "../../internal/mac/testdata/vectors.json"

type spec = mactest.Spec

func loadVectors(tb testing.TB) []spec { return mactest.Load(tb, vectorsFile) }

func vectorByName(tb testing.TB, name string) spec { return mactest.ByName(tb, vectorsFile, name) }

var derivedKey = mactest.DerivedKey

// mintWithLibrary mints s with gopkg.in/macaroon.v2.
func mintWithLibrary(tb testing.TB, s spec) *macaroon.Macaroon {
	tb.Helper()
	m, err := macaroon.New(s.RootKey, s.ID, s.Location, macaroon.V2)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range s.Caveats {
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
func checkFields(t *testing.T, m *mac.Macaroon, s spec) { t.Helper(); mactest.CheckFields(t, m, s) }

var raw = mactest.Raw

var (
	testSig = bytes.Repeat([]byte{0xaa}, mac.SignatureSize)
	trailer = raw(0, 6, 32, testSig)
	// header is version, identifier "i", EOS.
	header = raw(2, 2, 1, "i", 0)
)
