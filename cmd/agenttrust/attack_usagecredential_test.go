package main

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/internal/apikey"
)

// TestAttackUsageErrorQuotesCredential: a credential given in the wrong
// place on the command line or in the environment (a key as
// "token exchange"'s argument, a token without --credential, a key in
// AGENTTRUST_SERVER, a flag's value) was quoted back in the usage error,
// on stderr, which CI jobs and runbooks log. The error must still be a
// usage error, without the credential.
func TestAttackUsageErrorQuotesCredential(t *testing.T) {
	key, err := apikey.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	token := testToken(t)
	base := map[string]string{"AGENTTRUST_SERVER": "http://127.0.0.1:9", "AGENTTRUST_KEY": "atk_x"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"key as token exchange's argument", nil, []string{"token", "exchange", key}},
		{"key as whoami's argument", nil, []string{"whoami", key}},
		{"token without --credential", nil, []string{"check", "--tool", "t", token}},
		{"token as --attr", nil, []string{"check", "--tool", "t", "--attr", token}},
		{"key as --server", nil, []string{"whoami", "--server", key}},
		{"key in AGENTTRUST_SERVER", map[string]string{"AGENTTRUST_SERVER": key}, []string{"whoami"}},
		{"key as --expires", nil, []string{"key", "create", "--agent", "a", "--expires", key}},
		{"token as --since", nil, []string{"audit", "query", "--since", token}},
		{"key as --timeout", nil, []string{"whoami", "--timeout", key}},
		{"key in AGENTTRUST_TIMEOUT", map[string]string{"AGENTTRUST_TIMEOUT": key}, []string{"whoami"}},
		{"token as a second id", nil, []string{"revoke", "bot", token}},
		{"key as --status", nil, []string{"approvals", "list", "--status", key}},
		{"key as the command", nil, []string{key, "whoami"}},
		{"token as a subcommand", nil, []string{"token", token}},
		{"key as a flag before the command", nil, []string{"--" + key, "whoami"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range base {
				vars[k] = v
			}
			for k, v := range tc.env {
				vars[k] = v
			}
			res := runCLI(t, vars, "", tc.args...)
			if res.code != exitUsage || !strings.Contains(res.stderr, "Run 'agenttrust") {
				t.Errorf("exit %d, want a usage error (%d); stderr: %s", res.code, exitUsage, res.stderr)
			}
			for _, cred := range []string{key, token} {
				if strings.Contains(res.stdout+res.stderr, cred) {
					t.Errorf("the credential is printed:\nstdout: %s\nstderr: %s", res.stdout, res.stderr)
				}
			}
		})
	}
}
