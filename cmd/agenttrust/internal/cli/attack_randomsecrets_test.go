package cli

import (
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust/internal/entropy"
)

// constantReader reports success while it fills every read with one byte.
type constantReader byte

func (b constantReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestAttackSecretsFromBrokenRandom: GenerateSecrets wrote whatever its
// source gave as the deployment's master key, signing seed and audit
// secret. A source that breaks without an error made them all zero bytes
// (or one byte repeated): anyone could then mint tokens, sign JWTs and
// rewrite the audit chain of every node sharing the file. It must fail
// and generate nothing.
func TestAttackSecretsFromBrokenRandom(t *testing.T) {
	for name, r := range map[string]constantReader{"zeros": 0, "one byte repeated": 7} {
		t.Run(name, func(t *testing.T) {
			s, err := GenerateSecrets(r)
			if !errors.Is(err, entropy.ErrConstant) {
				t.Errorf("err = %v, want %v", err, entropy.ErrConstant)
			}
			if len(s.MasterKeys) != 0 || len(s.SigningKeys) != 0 || len(s.AuditSecret) != 0 {
				t.Errorf("generated %v from a broken source", s)
			}
		})
	}
}
