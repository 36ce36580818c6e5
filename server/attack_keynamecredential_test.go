package server

import (
	"strings"
	"testing"
)

// TestAttackKeyNameCredentialHTTP: a credential pasted into the name of
// a new key ("replaces atk_..." ) was redacted in the audit record of
// the key's creation, which keeps the name as its Reason, but stored
// verbatim: the creation's answer and GET /v1/keys returned it to every
// admin, for as long as the key exists. A key's name must be stored as
// the audit record keeps it: redacted.
func TestAttackKeyNameCredentialHTTP(t *testing.T) {
	e := newGrantEnv(t)
	leaked := e.key("acme/dave")
	secret := leaked[len(leaked)-12:]
	name := "replaces " + leaked
	created := e.must(201, "POST", "/v1/keys", e.key("acme/root"), map[string]any{"agent_id": "bot2", "name": name})
	t.Run("creation's answer", func(t *testing.T) {
		if strings.Contains(string(created.body), secret) {
			t.Errorf("POST /v1/keys answers the pasted credential: %s", created.body)
		}
	})
	for _, path := range []string{"/v1/keys", "/v1/audit"} {
		t.Run(path, func(t *testing.T) {
			got := e.must(200, "GET", path, e.key("acme/root"), nil)
			if strings.Contains(string(got.body), secret) {
				t.Errorf("GET %s returns the pasted credential: %s", path, got.body)
			}
		})
	}
}
