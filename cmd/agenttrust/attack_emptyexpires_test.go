package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAttackKeyCreateEmptyExpires: "key create --expires "$EXPIRY""
// in a provisioning script whose $EXPIRY is unset made a key that never
// expires, as if the flag were left out: an empty value meant the widest
// one. An empty --expires given must be a usage error, with no key made.
func TestAttackKeyCreateEmptyExpires(t *testing.T) {
	server, admin := startServe(t)
	vars := map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": admin}
	keys := func() int {
		res := runCLI(t, vars, "", "key", "list", "--json")
		var ks []json.RawMessage
		if err := json.Unmarshal([]byte(res.stdout), &ks); err != nil {
			t.Fatalf("key list: %v: %s", err, res.stdout)
		}
		return len(ks)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"empty argument", []string{"--expires", ""}},
		{"empty with =", []string{"--expires="}},
		{"empty, --json", []string{"--expires", "", "--json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := keys()
			res := runCLI(t, vars, "", append([]string{"key", "create", "--agent", "billing-bot"}, tc.args...)...)
			if res.code != exitUsage || !strings.Contains(res.stderr, "--expires is empty") {
				t.Errorf("exit %d, want a usage error (%d) saying --expires is empty\nstdout: %s\nstderr: %s", res.code, exitUsage, res.stdout, res.stderr)
			}
			if n := keys(); n != before {
				t.Errorf("a key was made: %d keys, %d before", n, before)
			}
		})
	}
	// Left out, the key never expires, as documented; a value sets it.
	for _, args := range [][]string{nil, {"--expires", "1h"}} {
		if res := runCLI(t, vars, "", append([]string{"key", "create", "--agent", "billing-bot"}, args...)...); res.code != 0 {
			t.Errorf("key create %v: exit %d: %s", args, res.code, res.stderr)
		}
	}
}
