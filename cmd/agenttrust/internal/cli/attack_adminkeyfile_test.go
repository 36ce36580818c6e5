package cli

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// serveOnce runs Serve over the SQLite file db until it listens, with the
// first admin key going to keyFile (none when empty), and returns its
// error, what it wrote to Notice and its log.
func serveOnce(t *testing.T, db, keyFile string) (err error, notice, log string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logBuf, noticeBuf bytes.Buffer
	l := slog.New(cancelOnListen{Handler: slog.NewTextHandler(&logBuf, nil), cancel: cancel})
	err = Serve(ctx, ServeConfig{Listen: "127.0.0.1:0", SQLite: db, Node: "n1", Logger: l, Notice: &noticeBuf, AdminKeyFile: keyFile})
	return err, noticeBuf.String(), logBuf.String()
}

// systemKeys returns the keys of the system tenant stored in db.
func systemKeys(t *testing.T, db string) []store.Key {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ks, err := st.Keys(context.Background(), DefaultSystemTenant)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// TestAttackAdminKeyFile: the first admin key's secret went only to
// stderr, which a service manager or container runtime keeps in a log
// that outlives it and that more people read than should hold an admin
// key. With --admin-key-file it goes to a new 0600 file and nowhere
// else; a file, or a symbolic link, already at that path (planted to
// receive the key, or to have it written through to a place of the
// attacker's choosing) is refused before anything is created.
func TestAttackAdminKeyFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes and symbolic links")
	}
	t.Run("first start writes the key to the file only", func(t *testing.T) {
		dir := t.TempDir()
		db, keyFile := filepath.Join(dir, "agenttrust.db"), filepath.Join(dir, "admin.key")
		err, notice, log := serveOnce(t, db, keyFile)
		if err != nil {
			t.Fatalf("Serve: %v\n%s", err, log)
		}
		data, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatalf("no key file: %v", err)
		}
		secret := strings.TrimSpace(string(data))
		k, err := apikey.Parse(secret)
		if err != nil {
			t.Fatalf("the key file holds no API key: %v", err)
		}
		if strings.Contains(notice, secret) || strings.Contains(log, secret) || strings.Contains(notice, "atk_") {
			t.Errorf("the secret reached stderr or the log:\n%s\n%s", notice, log)
		}
		if !strings.Contains(notice, keyFile) {
			t.Errorf("the notice does not say where the key is:\n%s", notice)
		}
		fi, err := os.Lstat(keyFile)
		if err != nil || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
			t.Errorf("key file mode %v (%v), want a regular file of mode 0600", fi.Mode(), err)
		}
		ks := systemKeys(t, db)
		if len(ks) != 1 || ks[0].Hash != k.Hash() || ks[0].AgentID != BootstrapAgent {
			t.Errorf("stored keys %+v do not hold the file's key", ks)
		}
	})
	t.Run("a restart with the flag still given mints nothing", func(t *testing.T) {
		dir := t.TempDir()
		db, keyFile := filepath.Join(dir, "agenttrust.db"), filepath.Join(dir, "admin.key")
		if err, _, log := serveOnce(t, db, keyFile); err != nil {
			t.Fatalf("Serve: %v\n%s", err, log)
		}
		os.Remove(keyFile) // read and stored away, as the notice says
		err, notice, log := serveOnce(t, db, keyFile)
		if err != nil {
			t.Fatalf("Serve again: %v\n%s", err, log)
		}
		if _, err := os.Lstat(keyFile); !errors.Is(err, fs.ErrNotExist) || notice != "" || len(systemKeys(t, db)) != 1 {
			t.Errorf("second start made a key (file: %v, notice %q, keys %d)", err, notice, len(systemKeys(t, db)))
		}
	})

	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, keyFile, elsewhere string)
	}{
		{"a file already there", func(t *testing.T, keyFile, _ string) {
			if err := os.WriteFile(keyFile, []byte("planted\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"a symbolic link to a file", func(t *testing.T, keyFile, elsewhere string) {
			if err := os.WriteFile(elsewhere, []byte("planted\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, keyFile); err != nil {
				t.Fatal(err)
			}
		}},
		{"a dangling symbolic link", func(t *testing.T, keyFile, elsewhere string) {
			if err := os.Symlink(elsewhere, keyFile); err != nil {
				t.Fatal(err)
			}
		}},
		{"a directory", func(t *testing.T, keyFile, _ string) {
			if err := os.Mkdir(keyFile, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db, keyFile := filepath.Join(dir, "agenttrust.db"), filepath.Join(dir, "admin.key")
			elsewhere := filepath.Join(t.TempDir(), "collected")
			tc.plant(t, keyFile, elsewhere)
			err, notice, log := serveOnce(t, db, keyFile)
			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("Serve: %v, want an error wrapping fs.ErrExist\n%s", err, log)
			}
			if strings.Contains(notice, "atk_") {
				t.Errorf("a secret reached the notice:\n%s", notice)
			}
			if b, _ := os.ReadFile(elsewhere); bytes.Contains(b, []byte("atk_")) {
				t.Errorf("the key was written through the link: %q", b)
			}
			if b, _ := os.ReadFile(keyFile); bytes.Contains(b, []byte("atk_")) {
				t.Errorf("the key was written to the planted file: %q", b)
			}
			// Refused before a key, the secrets or the checkpoints were
			// made: a later start with a clean path is still the first.
			for _, p := range []string{db + ".secrets", db + ".secrets.checkpoints"} {
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s made by a refused start (%v)", filepath.Base(p), err)
				}
			}
			if ks := systemKeys(t, db); len(ks) != 0 {
				t.Errorf("a refused start stored %d keys", len(ks))
			}
		})
	}
}
