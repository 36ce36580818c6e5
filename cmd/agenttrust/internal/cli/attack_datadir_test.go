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

// TestAttackDataDirectoryWritableByOthers: in a directory others may
// write (without the sticky bit), any local user renames the server's
// files: the checkpoint file moved aside at one time and moved back over
// the current one later is an older checkpoint, under which records cut
// from the end of a chain since go unseen; the secrets or checkpoint file
// moved away stops every start. serve started in such a directory
// without a word. It refuses one holding its database, secrets or
// checkpoint file.
func TestAttackDataDirectoryWritableByOthers(t *testing.T) {
	serve := func(t *testing.T, cfg ServeConfig) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cfg.Listen, cfg.Node, cfg.Notice = "127.0.0.1:0", "n1", io.Discard
		cfg.Logger = slog.New(cancelOnListen{Handler: slog.NewTextHandler(io.Discard, nil), cancel: cancel})
		return Serve(ctx, cfg)
	}
	// moveTo moves the file at *path into a new directory of mode 0777
	// and points *path at it.
	moveTo := func(t *testing.T, path *string) {
		dir := filepath.Join(t.TempDir(), "shared")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dir, filepath.Base(*path))
		if err := os.Rename(*path, to); err != nil {
			t.Fatal(err)
		}
		*path = to
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, d *deployment) ServeConfig
	}{
		{"data directory", func(t *testing.T, d *deployment) ServeConfig {
			if err := os.Chmod(d.dir, 0o777); err != nil {
				t.Fatal(err)
			}
			return ServeConfig{SQLite: d.db}
		}},
		{"secrets directory", func(t *testing.T, d *deployment) ServeConfig {
			moveTo(t, &d.secrets)
			return ServeConfig{SQLite: d.db, Secrets: d.secrets, AuditCheckpoints: d.checkpoints}
		}},
		{"checkpoint directory", func(t *testing.T, d *deployment) ServeConfig {
			moveTo(t, &d.checkpoints)
			return ServeConfig{SQLite: d.db, AuditCheckpoints: d.checkpoints}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := deployed(t)
			cfg := tc.setup(t, d)
			if err := serve(t, cfg); !errors.Is(err, ErrDirectoryExposed) {
				t.Fatalf("serve: %v, want ErrDirectoryExposed", err)
			}
		})
	}
	// A sticky directory (/tmp) keeps others off the files in it.
	t.Run("control: sticky", func(t *testing.T) {
		d := deployed(t)
		if err := os.Chmod(d.dir, 0o777|os.ModeSticky); err != nil {
			t.Fatal(err)
		}
		if err := serve(t, ServeConfig{SQLite: d.db}); err != nil {
			t.Fatalf("serve in a sticky directory: %v", err)
		}
	})
}
