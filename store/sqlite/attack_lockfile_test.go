//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// TestAttackLockFilePlantedLink: whoever can create files in the data
// directory (a group-writable one) plants a symbolic link at the lock
// file's name before the store first opens: Open followed it and created
// the file it names, as the server's user (root: /etc/nologin, which
// locks every other user out, or a file of the attacker's choosing that
// then exists). A link there is refused, and nothing is created.
func TestAttackLockFilePlantedLink(t *testing.T) {
	cases := []struct {
		name string
		opts []sqlite.Option
	}{
		{"exclusive", []sqlite.Option{sqlite.WithExclusive()}},
		{"shared", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "agenttrust.db")
			target := filepath.Join(t.TempDir(), "nologin")
			if err := os.Symlink(target, db+"-lock"); err != nil {
				t.Fatal(err)
			}
			s, err := sqlite.Open(context.Background(), db, tc.opts...)
			if err == nil {
				s.Close()
			}
			if _, serr := os.Lstat(target); serr == nil {
				t.Errorf("Open created the file the planted link names (open: %v)", err)
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Open: %v, want store.ErrUnavailable", err)
			}
		})
	}
}
