//go:build !windows

package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestAttackKeyEnvironmentShadowsKeyFile: a script sets
// AGENTTRUST_KEY_FILE to act as an agent (AGENTTRUST_KEY_FILE=bot.key
// agenttrust token create > handed-to-the-bot), run from an operator's
// shell that exports AGENTTRUST_KEY with an admin key. The command used
// AGENTTRUST_KEY, silently: the bot was handed an admin token, even when
// the file it was told to use was refused. With both set, which one a
// script meant cannot be known: the command refuses before sending either.
func TestAttackKeyEnvironmentShadowsKeyFile(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer ts.Close()
	dir := t.TempDir()
	cases := []struct {
		name string
		mode os.FileMode
	}{
		{"both set", 0o600},
		{"both set, the file refused", 0o644},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(file, []byte("atk_bot\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, tc.mode); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			sent = nil
			mu.Unlock()
			r := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_admin", "AGENTTRUST_KEY_FILE": file},
				"", "key", "list", "--retries", "0")
			mu.Lock()
			defer mu.Unlock()
			if r.code != exitUsage || len(sent) != 0 {
				t.Fatalf("exit %d, sent %q; want a usage error and nothing sent\nstderr: %s", r.code, sent, r.stderr)
			}
			if !strings.Contains(r.stderr, "AGENTTRUST_KEY_FILE") || strings.Contains(r.stderr, "atk_") {
				t.Errorf("the refusal names neither variable, or quotes a key: %s", r.stderr)
			}
		})
	}
	// A flag on the command line still wins over either variable.
	file := filepath.Join(dir, "flag")
	if err := os.WriteFile(file, []byte("atk_bot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sent = nil
	r := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_admin", "AGENTTRUST_KEY_FILE": file},
		"", "key", "list", "--key-file", file)
	if r.code != exitOK || len(sent) == 0 || sent[0] != "Bearer atk_bot" {
		t.Errorf("--key-file with both variables set: exit %d, sent %q: %s", r.code, sent, r.stderr)
	}
}
