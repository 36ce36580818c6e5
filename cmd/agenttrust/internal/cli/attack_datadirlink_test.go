//go:build unix

package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestAttackDataFileLinkedIntoSharedDirectory: the refusal of a data
// directory others may write (TestAttackDataDirectoryWritableByOthers)
// looked at the directory of the path serve was given, not at the one
// the file is in: a database, secrets or checkpoint file reached through
// a symbolic link from a private directory, but kept in a directory of
// mode 0777, was served without a word, and any local user could rename
// it, remove it or move an older checkpoint file over it.
func TestAttackDataFileLinkedIntoSharedDirectory(t *testing.T) {
	// linkFrom moves the file at path into a new directory of mode 0777
	// and leaves a symbolic link to it at path.
	linkFrom := func(t *testing.T, path string) {
		dir := filepath.Join(t.TempDir(), "shared")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dir, filepath.Base(path))
		if err := os.Rename(path, to); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(to, path); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		file func(d *deployment) string
	}{
		{"database", func(d *deployment) string { return d.db }},
		{"secrets", func(d *deployment) string { return d.secrets }},
		{"checkpoints", func(d *deployment) string { return d.checkpoints }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deployed(t)
			linkFrom(t, tc.file(d))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := ServeConfig{Listen: "127.0.0.1:0", Node: "n1", Notice: io.Discard, SQLite: d.db,
				Logger: slog.New(cancelOnListen{Handler: slog.NewTextHandler(io.Discard, nil), cancel: cancel})}
			if err := Serve(ctx, cfg); !errors.Is(err, ErrDirectoryExposed) {
				t.Fatalf("serve: %v, want ErrDirectoryExposed", err)
			}
		})
	}
}
