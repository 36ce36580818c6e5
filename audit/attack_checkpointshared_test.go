//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package audit

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

// TestAttackCheckpointFileShared: two nodes given one checkpoint file
// (serve's default puts it beside the secrets file, which every node of a
// deployment loads: two nodes on one host with the same --secrets, or a
// shared mount) each rewrite it from their own memory, so each write drops
// the other's newest checkpoints, and records cut from the end of a chain
// then go unseen at the next start. The second to open the file must be
// refused, by any name it reaches the file by.
func TestAttackCheckpointFileShared(t *testing.T) {
	key := mustAuditKey(t, attackSecret)
	cases := []struct {
		name   string
		second func(t *testing.T, path string) string // the path node 2 is given
	}{
		{"same path", func(t *testing.T, path string) string { return path }},
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
			path := filepath.Join(t.TempDir(), "secrets.checkpoints")
			if err := CreateCheckpoints(path, key); err != nil {
				t.Fatal(err)
			}
			n1, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: key})
			if err != nil {
				t.Fatal(err)
			}
			defer n1.Close()
			n2, err := OpenCheckpoints(CheckpointConfig{Path: tc.second(t, path), Key: key})
			if err == nil {
				// What sharing costs: node 2's write forgets node 1's
				// checkpoint.
				n1.Record("n1/acme", "acme", 9, store.Hash{1})
				n2.Record("n2/acme", "acme", 4, store.Hash{2})
				n2.Close()
				n1.Close()
				if again, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: key}); err == nil {
					cp, ok := again.Latest("n1/acme")
					again.Close()
					t.Errorf("a second node opened the checkpoint file in use; node 1's checkpoint after both wrote: %+v, %v", cp, ok)
				}
				t.Fatal("a second OpenCheckpoints of a file in use succeeded")
			}
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("second open: %v, want ErrCheckpoint", err)
			}
			// Once node 1 is closed the file is free again.
			if err := n1.Close(); err != nil {
				t.Fatal(err)
			}
			n3, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: key})
			if err != nil {
				t.Fatalf("open after the first node closed: %v", err)
			}
			n3.Close()
		})
	}
}
