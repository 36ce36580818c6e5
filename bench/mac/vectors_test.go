package mac_test

import (
	"bytes"
	"testing"
)

// TestGoldenVectorsLibrary: every golden vector of internal/mac is what
// gopkg.in/macaroon.v2 mints from the same root key, identifier,
// location and caveats, byte for byte, so the core module's
// TestGoldenVectors pins the codec to the library without importing it.
func TestGoldenVectorsLibrary(t *testing.T) {
	for _, s := range loadVectors(t) {
		t.Run(s.Name, func(t *testing.T) {
			m := mintWithLibrary(t, s)
			enc, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, s.Encoded) {
				t.Fatalf("the library encodes differently:\n got %x\nwant %x", enc, s.Encoded)
			}
			if !bytes.Equal(m.Signature(), s.Sig) {
				t.Fatalf("the library signs %x, want %x", m.Signature(), s.Sig)
			}
		})
	}
}
