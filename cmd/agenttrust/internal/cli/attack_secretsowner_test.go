//go:build unix

package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttackSecretsFileOfAnotherUser: a secrets file that another user
// owns is that user's to read and rewrite, whatever its mode: a user who
// can create files in the data directory plants one holding keys of its
// own before the first start (serve then mints and verifies with them),
// and a file restored from another host (tar as root keeps the owner's
// uid) belongs to whoever has that uid here. serve, running as root, read
// either. A private file must be owned by the process's user (or root).
func TestAttackSecretsFileOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a file of another user needs root")
	}
	const nobody = 65534
	// foreign writes a valid private file at path, mode 0600, owned by
	// another user.
	foreign := func(t *testing.T, path string, body []byte) {
		t.Helper()
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	plantedSecrets := func(t *testing.T, path string) {
		t.Helper()
		s, err := GenerateSecrets(nil) // the attacker's own keys
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteSecrets(path, s); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	token := []byte(strings.Repeat("m", 40))
	cases := []struct {
		name string
		run  func(t *testing.T, dir string) error
	}{
		{"secrets planted before the first start", func(t *testing.T, dir string) error {
			db := filepath.Join(dir, "agenttrust.db")
			plantedSecrets(t, db+".secrets")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			log := slog.New(cancelOnListen{Handler: slog.NewTextHandler(io.Discard, nil), cancel: cancel})
			return Serve(ctx, ServeConfig{Listen: "127.0.0.1:0", SQLite: db, Node: "n1", Logger: log, Notice: io.Discard})
		}},
		{"secrets reached through a symbolic link", func(t *testing.T, dir string) error {
			real := filepath.Join(dir, "theirs")
			plantedSecrets(t, real)
			link := filepath.Join(dir, "secrets")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSecrets(link)
			return err
		}},
		{"metrics token file", func(t *testing.T, dir string) error {
			path := filepath.Join(dir, "metrics-token")
			foreign(t, path, token)
			_, err := readMetricsToken(path)
			return err
		}},
		{"approval webhook secret file", func(t *testing.T, dir string) error {
			path := filepath.Join(dir, "webhook-secret")
			foreign(t, path, token)
			_, err := readPrivateFile(path, "approval webhook secret")
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(t, t.TempDir())
			if !errors.Is(err, ErrSecretsExposed) {
				t.Fatalf("got %v, want ErrSecretsExposed", err)
			}
		})
	}
}
