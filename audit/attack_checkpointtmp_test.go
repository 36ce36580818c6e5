//go:build unix

package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

// TestAttackCheckpointTempPlanted: whoever can create a file in the
// checkpoint file's directory (a group-writable data directory, another
// service's user) plants what save writes through before its rename: a
// symbolic link to a file the server may write (the secrets file), or a
// file of its own with a loose mode. Writing a checkpoint must neither
// write through the link nor end with a checkpoint file others may write
// or that the next start refuses.
func TestAttackCheckpointTempPlanted(t *testing.T) {
	key := mustAuditKey(t, attackSecret)
	victimBody := []byte("{\"version\":1,\"master_keys\":[]}\n")
	cases := []struct {
		name string
		// plant prepares tmp (the name save used to write through)
		// in dir, beside victim.
		plant  func(t *testing.T, tmp, victim string)
		create bool // plant before CreateCheckpoints, not before a Record
	}{
		{"symlink to the secrets file", func(t *testing.T, tmp, victim string) {
			if err := os.Symlink(victim, tmp); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"symlink to the secrets file before create", func(t *testing.T, tmp, victim string) {
			if err := os.Symlink(victim, tmp); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"world-writable file of the attacker's", func(t *testing.T, tmp, victim string) {
			if err := os.WriteFile(tmp, nil, 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(tmp, 0o666); err != nil { // past the umask
				t.Fatal(err)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "agenttrust.db.secrets.checkpoints")
			victim := filepath.Join(dir, "agenttrust.db.secrets")
			if err := os.WriteFile(victim, victimBody, 0o600); err != nil {
				t.Fatal(err)
			}
			tmp := path + ".tmp"
			if tc.create {
				tc.plant(t, tmp, victim)
			}
			if err := CreateCheckpoints(path, key); err != nil {
				t.Fatal(err)
			}
			cps, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: key})
			if err != nil {
				t.Fatalf("open after create: %v", err)
			}
			if !tc.create {
				tc.plant(t, tmp, victim)
			}
			if err := cps.Record("n1/acme", "acme", 7, store.Hash{1}); err != nil {
				t.Fatalf("Record: %v", err)
			}
			if err := cps.Close(); err != nil {
				t.Fatal(err)
			}

			if got, err := os.ReadFile(victim); err != nil || !bytes.Equal(got, victimBody) {
				t.Errorf("the file the planted link names was written: %q, %v", got, err)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Errorf("checkpoint file is %v, want a regular file of mode 0600", fi.Mode())
			}
			again, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: key})
			if err != nil {
				t.Fatalf("the next start cannot open the checkpoints: %v", err)
			}
			defer again.Close()
			if cp, ok := again.Latest("n1/acme"); !ok || cp.Seq != 7 {
				t.Errorf("checkpoint %+v, %v; want seq 7", cp, ok)
			}
		})
	}
}
