//go:build unix

package audit

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

// TestAttackCheckpointFileOfAnotherUser: the checkpoint file is refused
// when its group or others may write it, but another user who owns it
// writes it whatever its mode: it keeps a copy of the file and later puts
// those bytes back, an older checkpoint under which records cut from the
// end of a chain since go unseen (a file restored from another host with
// its owner's uid, or planted in a shared directory, is such a file).
func TestAttackCheckpointFileOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a file of another user needs root")
	}
	key := mustAuditKey(t, attackSecret)
	cases := []struct {
		name string
		open func(t *testing.T, path string) string
	}{
		{"by its path", func(t *testing.T, path string) string { return path }},
		{"through a symbolic link", func(t *testing.T, path string) string {
			link := filepath.Join(t.TempDir(), "checkpoints")
			if err := os.Symlink(path, link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "checkpoints")
			if err := CreateCheckpoints(path, key); err != nil {
				t.Fatal(err)
			}
			cps, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: key})
			if err != nil {
				t.Fatal(err)
			}
			cps.Record("n1/acme", "acme", 3, store.Hash{3})
			cps.Close()
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			cps, err = OpenCheckpoints(CheckpointConfig{Path: tc.open(t, path), Key: key})
			if err == nil {
				cps.Close()
				t.Fatal("a checkpoint file of another user was opened")
			}
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("OpenCheckpoints: %v, want ErrCheckpoint", err)
			}
		})
	}
}
