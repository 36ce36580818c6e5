package agenttrust_test

import (
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackZeroSecret: a secret that is all zero bytes is no secret:
// what a buffer holds when it was cleared before use, never filled (a
// read into it that failed unnoticed) or zero-padded from an empty
// setting. New took a 32-byte zero master key, Ed25519 seed or audit
// secret as it took any other: anyone could then mint the client's
// tokens for any key id (ids are no secret), sign its JWTs, or
// recompute its audit chain. Each must be refused with ErrInvalidConfig.
func TestAttackZeroSecret(t *testing.T) {
	zero := make([]byte, 32)
	good := []byte("0123456789abcdef0123456789abcdef")
	cases := map[string]func() error{
		"master key": func() error {
			return newWith(agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{{ID: "mk1", Secret: zero}}}))
		},
		"retired master key": func() error {
			return newWith(agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{{ID: "mk2", Secret: good}, {ID: "mk1", Secret: zero}}}))
		},
		"longer master key": func() error {
			return newWith(agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{{ID: "mk1", Secret: make([]byte, 64)}}}))
		},
		"signing seed": func() error {
			return newWith(agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{{ID: "sk1", Secret: zero}}}))
		},
		"retired signing seed": func() error {
			return newWith(agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{{ID: "sk2", Secret: good}, {ID: "sk1", Secret: zero}}}))
		},
		"audit secret": func() error {
			_, err := agenttrust.NewAuditKey(zero)
			return err
		},
	}
	for name, run := range cases {
		t.Run(name, func(t *testing.T) {
			if err := run(); !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("err = %v, want %v", err, agenttrust.ErrInvalidConfig)
			}
		})
	}
	t.Run("control", func(t *testing.T) {
		if err := newWith(agenttrust.WithTokens(agenttrust.TokenConfig{
			MasterKeys:  []agenttrust.SecretKey{{ID: "mk1", Secret: good}},
			SigningKeys: []agenttrust.SecretKey{{ID: "sk1", Secret: good}},
		})); err != nil {
			t.Fatal(err)
		}
		if _, err := agenttrust.NewAuditKey(good); err != nil {
			t.Fatal(err)
		}
	})
}

// newWith builds a client with opts and closes it, returning New's error.
func newWith(opts ...agenttrust.Option) error {
	c, err := agenttrust.New(memory.New(), opts...)
	if c != nil {
		c.Close()
	}
	return err
}
