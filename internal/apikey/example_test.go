package apikey_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/agenttrust/agenttrust/internal/apikey"
)

func Example() {
	// Production code passes nil (crypto/rand); a fixed stream makes the
	// example reproducible.
	secret, err := apikey.Generate(bytes.NewReader(make([]byte, apikey.RandomLen)))
	if err != nil {
		panic(err)
	}
	fmt.Println("shown once:", secret)

	// Store only the hash.
	stored := apikey.Hash(secret)

	// Later, a caller presents the key.
	k, err := apikey.Parse(secret)
	if err != nil {
		panic(err)
	}
	fmt.Println("parsed:", k) // redacted
	fmt.Println("matches:", apikey.Equal(k.Hash(), stored))

	// A typo is caught offline by the checksum, before any lookup.
	typo := secret[:10] + "1" + secret[11:]
	_, err = apikey.Parse(typo)
	fmt.Println(err, errors.Is(err, apikey.ErrChecksum))

	_, err = apikey.Parse("sk_live_123")
	fmt.Println(err)
	// Output:
	// shown once: atk_0000000000000000000000000000002C8GjS
	// parsed: atk_REDACTED
	// matches: true
	// agenttrust: api key checksum mismatch true
	// agenttrust: malformed api key: missing "atk_" prefix
}
