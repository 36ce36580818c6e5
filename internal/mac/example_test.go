package mac_test

import (
	"crypto/sha256"
	"fmt"

	"github.com/agenttrust/agenttrust/internal/mac"
)

func Example() {
	rootKey := sha256.Sum256([]byte("example root key")) // in agenttrust: HMAC(master secret, token id)

	// Mint.
	b, err := mac.New(rootKey[:], []byte("token-1"), "")
	if err != nil {
		panic(err)
	}
	_ = b.AddCaveat([]byte("agent = billing-bot"))
	_ = b.AddCaveat([]byte("expires < 2026-11-22T05:00:00Z"))
	token, _ := b.AppendBinary(nil)

	// Anyone holding the token can narrow it offline, without the root key.
	narrowed, err := mac.Attenuate(nil, token, nil, []byte("hop = h1"), []byte("attr.amount <= 50"))
	if err != nil {
		panic(err)
	}

	// Verify: decode, check the signature chain, then evaluate every caveat.
	var h mac.Hasher // one per goroutine, or from a sync.Pool
	var m mac.Macaroon
	if err := mac.Decode(narrowed, &m); err != nil {
		panic(err)
	}
	fmt.Println("verify:", mac.Verify(&m, rootKey[:], &h))
	for _, c := range m.Caveats() {
		fmt.Printf("caveat: %s\n", c)
	}
	fmt.Println(m) // redacted: the signature is the bearer secret

	// Tampering (here: dropping the last byte) is caught.
	fmt.Println(mac.Decode(narrowed[:len(narrowed)-1], &m))
	// Output:
	// verify: <nil>
	// caveat: agent = billing-bot
	// caveat: expires < 2026-11-22T05:00:00Z
	// caveat: hop = h1
	// caveat: attr.amount <= 50
	// mac.Macaroon{REDACTED}
	// agenttrust: malformed macaroon: truncated
}
