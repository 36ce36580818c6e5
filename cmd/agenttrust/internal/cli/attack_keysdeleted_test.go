package cli

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackSystemKeysDeleted: a database writer (SECURITY.md's threat
// model) deletes the system tenant's keys. The start after it took "the
// system tenant has no keys" for a first start and minted a fresh admin
// key, printed to stderr (kept by the log) or written to the admin key
// file, and skipped the rule that a store in use needs its secrets and
// checkpoint files. A store whose system tenant has an audit trail has
// been started before: the start is refused, and no key is made.
func TestAttackSystemKeysDeleted(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(t *testing.T, d *deployment)
		keyFile bool
		want    error
	}{
		{"system tenant's keys deleted", func(t *testing.T, d *deployment) {
			d.exec(t, `DELETE FROM keys WHERE tenant = ?`, DefaultSystemTenant)
		}, false, ErrSystemKeysGone},
		{"system tenant's keys deleted, admin key file given", func(t *testing.T, d *deployment) {
			d.exec(t, `DELETE FROM keys WHERE tenant = ?`, DefaultSystemTenant)
		}, true, ErrSystemKeysGone},
		{"every key deleted", func(t *testing.T, d *deployment) {
			d.exec(t, `DELETE FROM keys`)
		}, false, ErrSystemKeysGone},
		{"keys deleted and the checkpoint file lost", func(t *testing.T, d *deployment) {
			d.exec(t, `DELETE FROM keys`)
			os.Remove(d.checkpoints)
		}, false, ErrSystemKeysGone},
		// Held before: the trail's tail is checkpointed.
		{"keys and the whole audit trail deleted", func(t *testing.T, d *deployment) {
			d.exec(t, `DELETE FROM keys`)
			d.exec(t, `DELETE FROM audit`)
		}, false, agenttrust.ErrChainBroken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := deployed(t)
			tc.tamper(t, d)
			keyFile := ""
			if tc.keyFile {
				keyFile = filepath.Join(t.TempDir(), "admin.key")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var logBuf, notice bytes.Buffer
			l := slog.New(cancelOnListen{Handler: slog.NewTextHandler(&logBuf, nil), cancel: cancel})
			err := Serve(ctx, ServeConfig{Listen: "127.0.0.1:0", SQLite: d.db, Node: "n1", Logger: l, Notice: &notice, AdminKeyFile: keyFile})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Serve: %v, want %v\n%s", err, tc.want, logBuf.String())
			}
			if strings.Contains(notice.String(), "atk_") {
				t.Errorf("a fresh admin key was printed:\n%s", notice.String())
			}
			if keyFile != "" {
				if _, err := os.Lstat(keyFile); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("admin key file made (%v)", err)
				}
			}
			if ks := systemKeys(t, d.db); len(ks) != 0 {
				t.Errorf("%d keys minted", len(ks))
			}
		})
	}
}
