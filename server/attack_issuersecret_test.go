package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackIssuerSecretInError: an issuer URL refused by WithIssuer
// (agenttrust serve --issuer) was quoted whole in the error, so a
// password in its user information or a token in its query or fragment
// went to stderr, often a log. The error must name the URL without them,
// as the CLI's --server refusal does, and still refuse it.
func TestAttackIssuerSecretInError(t *testing.T) {
	const secret = "s3cr3tpassw0rd"
	for name, issuer := range map[string]string{
		"password":              "https://ops:" + secret + "@at.example.com",
		"password and path":     "https://ops:" + secret + "@at.example.com/v1",
		"query token":           "https://at.example.com/?access_token=" + secret,
		"fragment token":        "https://at.example.com#token=" + secret,
		"unparseable, password": "https://ops:" + secret + "@at.example.com:port",
		"unparseable, query":    "https://at.exa mple.com/?access_token=" + secret,
		"no scheme, password":   "ops:" + secret + "@at.example.com",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(newMemoryStore(), WithIssuer(issuer))
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("WithIssuer(%q) = %v; want an error matching ErrInvalidConfig", issuer, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
}
