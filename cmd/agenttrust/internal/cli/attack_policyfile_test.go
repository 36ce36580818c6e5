//go:build unix

package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestAttackPolicyFileWritableByOthers: a .cedar file given to serve
// --policy decides every tenant's checks, read again at every start; a
// JSON or YAML one becomes the system tenant's policy on the first. serve
// read either whatever its mode, so any local user could write the
// authorization policy of the deployment into a file left writable by
// others (an editor under umask 000, a chmod for a colleague) and have it
// enforced at the next restart. Such a file is refused. Its group may
// write it: under the user private groups of umask 002 the group is its
// owner's own.
func TestAttackPolicyFileWritableByOthers(t *testing.T) {
	const cedarPolicy = "@id(\"all\")\npermit (principal, action, resource);\n"
	const jsonPolicy = `{"rules":[{"id":"r","effect":"allow","tools":["t"]}]}`
	cases := []struct {
		name, file, body string
		mode             os.FileMode
	}{
		{"cedar writable by others", "p.cedar", cedarPolicy, 0o666},
		{"cedar writable by others only", "p.cedar", cedarPolicy, 0o602},
		{"json seed writable by others", "p.json", jsonPolicy, 0o646},
		{"yaml seed writable by others", "p.yaml", "rules:\n  - id: r\n    effect: allow\n    tools: [\"t\"]\n", 0o666},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			// The file is valid: only its mode is wrong.
			if _, err := readPolicy(path); err != nil {
				t.Fatalf("a 0600 policy file: %v", err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			if _, err := readPolicy(path); !errors.Is(err, ErrPolicyExposed) {
				t.Fatalf("readPolicy of a file of mode %04o: %v, want ErrPolicyExposed", tc.mode, err)
			}
		})
	}
	t.Run("control: group-writable", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "p.cedar")
		if err := os.WriteFile(path, []byte(cedarPolicy), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, 0o664)
		if _, err := readPolicy(path); err != nil {
			t.Fatalf("a 0664 policy file: %v", err)
		}
	})
}
