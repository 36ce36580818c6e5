//go:build unix

package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestAttackKeyFileOfAnotherUser: a credential file that another user
// owns is that user's to read, whatever its mode: an operator who writes
// an admin key into a file that already existed (echo "$KEY" > /tmp/key,
// where another user made /tmp/key first) keeps that user as its owner,
// and the CLI went on using the key, so nobody noticed. It is refused, as
// serve refuses a secrets file of another user.
func TestAttackKeyFileOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a file of another user needs root")
	}
	var seen atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			seen.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer ts.Close()
	for _, fromEnv := range []bool{false, true} {
		name := map[bool]string{false: "--key-file", true: "AGENTTRUST_KEY_FILE"}[fromEnv]
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(file, []byte("atk_secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(file, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			vars := map[string]string{"AGENTTRUST_SERVER": ts.URL}
			args := []string{"key", "list", "--retries", "0"}
			if fromEnv {
				vars["AGENTTRUST_KEY_FILE"] = file
			} else {
				args = append(args, "--key-file", file)
			}
			before := seen.Load()
			r := runCLI(t, vars, "", args...)
			if r.code == exitOK || seen.Load() != before {
				t.Fatalf("exit %d, credential sent %v: %q", r.code, seen.Load() != before, r.stderr)
			}
			if !strings.Contains(r.stderr, "another user") || strings.Contains(r.stderr, "atk_secret") {
				t.Errorf("refusal does not say why, or quotes the key: %q", r.stderr)
			}
		})
	}
}
