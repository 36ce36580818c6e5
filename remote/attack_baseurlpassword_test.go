package remote_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/remote"
)

// TestAttackBaseURLPasswordInError: a base URL that does not parse was
// refused with url.Parse's error, which quotes the whole URL: a password
// in its user information (a proxy's basic auth written into the URL)
// reached the error, which New's caller logs or prints, and with
// NewStore a node's start-up failure. The refusal must stay an
// ErrInvalidConfig, without the password.
func TestAttackBaseURLPasswordInError(t *testing.T) {
	key, err := apikey.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "Pr0xyS3cret"
	opens := map[string]func(base string) error{
		"New":             func(base string) error { _, err := remote.New(base, key); return err },
		"NewStore":        func(base string) error { _, err := remote.NewStore(base, key); return err },
		"NewAuditSink":    func(base string) error { _, err := remote.NewAuditSink(base, key); return err },
		"NewPolicyEngine": func(base string) error { _, err := remote.NewPolicyEngine(base, key); return err },
	}
	for _, base := range []string{
		"https://node:" + pw + "@agenttrust.example:port/",
		"https://node:" + pw + "@agenttrust.example/%zz",
		"https://node:" + pw + "@agenttrust.example/\x7f",
		"https://node:" + pw + "@[::1/",
	} {
		for name, open := range opens {
			t.Run(name+" "+strings.ReplaceAll(base, pw, "PW"), func(t *testing.T) {
				err := open(base)
				if !errors.Is(err, agenttrust.ErrInvalidConfig) {
					t.Fatalf("%v, want ErrInvalidConfig", err)
				}
				if strings.Contains(err.Error(), pw) {
					t.Errorf("the error holds the password: %v", err)
				}
			})
		}
	}
}
