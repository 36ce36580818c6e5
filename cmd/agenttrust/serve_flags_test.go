package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --admin-key-file reaches serve: the first admin key goes to the file,
// and stderr says only where it is.
func TestServeAdminKeyFileFlag(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "admin.key")
	_, stderr := serveInProcess(t, "--data", filepath.Join(dir, "agenttrust.db"), "--node", "inproc", "--admin-key-file", keyFile)
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("no admin key file: %v\n%s", err, stderr.String())
	}
	secret := strings.TrimSpace(string(b))
	if !strings.HasPrefix(secret, "atk_") {
		t.Fatalf("the admin key file holds %q", secret)
	}
	if out := stderr.String(); strings.Contains(out, secret) || keyRe.MatchString(out) || !strings.Contains(out, keyFile) {
		t.Errorf("stderr shows the secret, or not where it is:\n%s", out)
	}
}
