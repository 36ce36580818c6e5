//go:build !windows

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

// A credential file that its group or others may read is refused before
// it is used, as serve refuses such a secrets file or metrics token file
// and ssh such a private key: the command would otherwise go on working
// with a key that every local user can copy, and nobody would notice.
func TestAttackKeyFileReadableByOthers(t *testing.T) {
	var seen atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			seen.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer ts.Close()
	dir := t.TempDir()
	failed, total := 0, 0
	for _, tc := range []struct {
		mode    os.FileMode
		fromEnv bool
	}{{0o644, false}, {0o640, false}, {0o604, true}, {0o644, true}} {
		total++
		file := filepath.Join(dir, "key-"+tc.mode.String())
		if err := os.WriteFile(file, []byte("atk_secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(file, tc.mode); err != nil {
			t.Fatal(err)
		}
		vars := map[string]string{"AGENTTRUST_SERVER": ts.URL}
		args := []string{"key", "list", "--retries", "0"}
		if tc.fromEnv {
			vars["AGENTTRUST_KEY_FILE"] = file
		} else {
			args = append(args, "--key-file", file)
		}
		before := seen.Load()
		r := runCLI(t, vars, "", args...)
		if r.code == exitOK || seen.Load() != before {
			failed++
			t.Errorf("mode %v (env %v): exit %d, credential sent %v: %q", tc.mode, tc.fromEnv, r.code, seen.Load() != before, r.stderr)
			continue
		}
		if !strings.Contains(r.stderr, "chmod 600") || strings.Contains(r.stderr, "atk_secret") {
			t.Errorf("mode %v: refusal does not say how to fix it, or quotes the key: %q", tc.mode, r.stderr)
		}
	}
	// The owner's own file is used.
	file := filepath.Join(dir, "key-ok")
	if err := os.WriteFile(file, []byte("atk_secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY_FILE": file}, "", "key", "list"); r.code != exitOK {
		t.Errorf("a 0600 key file: exit %d: %q", r.code, r.stderr)
	}
	if failed > 0 {
		t.Logf("%d of %d cases used a key file others may read", failed, total)
	}
}
