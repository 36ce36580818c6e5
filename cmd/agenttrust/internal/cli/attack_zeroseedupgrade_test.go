package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttackZeroSeedUpgradeMessage: every secrets file an older serve
// generated holds a signing seed of 32 zero bytes, so every such
// deployment is refused at its first start after the upgrade, as it
// must be. The refusal said to "give a new random seed under a new id",
// but not where in the file (signing_keys), in what form (32 bytes in
// base64), what an id may hold, or how to make the bytes, nor what the
// change costs: an operator facing a server that does not start had to
// read the source. Each case writes the file as the older serve did
// (the zero key alone, or behind a key added since) and wants the
// refusal to name the file, the key and the field, and to give commands
// whose output, put in place as it says, makes a file that loads.
func TestAttackZeroSeedUpgradeMessage(t *testing.T) {
	zero := make([]byte, ed25519.SeedSize)
	random := func(n int) []byte {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		signing []signingJSON
	}{
		{"as generated", []signingJSON{{ID: "sk_0a1b2c3d4e5f6071", Seed: zero}}},
		{"behind a newer key", []signingJSON{{ID: "sk_new", Seed: random(32)}, {ID: "sk_0a1b2c3d4e5f6071", Seed: zero}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sf := secretsFile{Version: 1, MasterKeys: []masterKeyJSON{{ID: "mk_1", Secret: random(32)}}, SigningKeys: tc.signing, AuditKey: random(32)}
			path := filepath.Join(t.TempDir(), "agenttrust.db.secrets")
			write := func() {
				b, err := json.Marshal(sf)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write()
			_, err := LoadSecrets(path)
			if !errors.Is(err, ErrZeroSecret) {
				t.Fatalf("LoadSecrets: %v; want %v", err, ErrZeroSecret)
			}
			msg := err.Error()
			for _, want := range []string{path, `"sk_0a1b2c3d4e5f6071"`, "signing_keys", "seed", "base64", "openssl rand -base64 32", "openssl rand -hex 8", "every node", "JWTs"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the refusal does not say %q: %v", want, err)
				}
			}
			// Followed: the entry given a new id and seed as the commands
			// make them.
			for i := range sf.SigningKeys {
				if sf.SigningKeys[i].ID == "sk_0a1b2c3d4e5f6071" {
					sf.SigningKeys[i] = signingJSON{ID: "sk_" + "9f8e7d6c5b4a3921", Seed: random(32)}
				}
			}
			write()
			if _, err := LoadSecrets(path); err != nil {
				t.Fatalf("the file fixed as told is refused: %v", err)
			}
		})
	}
}
