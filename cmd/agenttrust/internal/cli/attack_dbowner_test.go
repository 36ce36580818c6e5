//go:build unix

package cli

import (
	"errors"
	"os"
	"testing"

	"github.com/agenttrust/agenttrust/store/sqlite"
)

// TestAttackDatabaseFileOfAnotherUser: whoever may write the SQLite file
// is a database writer, and a database writer makes itself an admin (it
// inserts a key row of its own). serve made the file 0600 but used one it
// found whatever its mode or owner: a file planted in the data directory
// before the first start by another user, one an operator left writable
// by others (a restore under umask 000, a chmod), a -wal file of another
// user's that SQLite replays into the database.
func TestAttackDatabaseFileOfAnotherUser(t *testing.T) {
	const nobody = 65534
	chown := func(t *testing.T, path string) {
		t.Helper()
		if os.Geteuid() != 0 {
			t.Skip("making a file of another user needs root")
		}
		if err := os.Chown(path, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		fresh bool // the first start, in an empty directory
		plant func(t *testing.T, d *deployment)
	}{
		{"database planted before the first start", true, func(t *testing.T, d *deployment) {
			if err := os.WriteFile(d.db, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			chown(t, d.db)
		}},
		{"database writable by others", false, func(t *testing.T, d *deployment) {
			if err := os.Chmod(d.db, 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{"database writable by its group", false, func(t *testing.T, d *deployment) {
			if err := os.Chmod(d.db, 0o620); err != nil {
				t.Fatal(err)
			}
		}},
		{"database owned by another user", false, func(t *testing.T, d *deployment) { chown(t, d.db) }},
		{"write-ahead log of another user", false, func(t *testing.T, d *deployment) {
			if err := os.WriteFile(d.db+"-wal", nil, 0o600); err != nil {
				t.Fatal(err)
			}
			chown(t, d.db+"-wal")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d *deployment
			if tc.fresh {
				dir := t.TempDir()
				d = &deployment{dir: dir, db: dir + "/agenttrust.db"}
			} else {
				d = deployed(t)
			}
			tc.plant(t, d)
			err, log := d.serve(t, false)
			if !errors.Is(err, ErrDatabaseExposed) {
				t.Fatalf("serve: %v, want ErrDatabaseExposed\n%s", err, log)
			}
		})
	}
	// The files serve makes itself pass.
	t.Run("control", func(t *testing.T) {
		dir := t.TempDir()
		d := &deployment{dir: dir, db: dir + "/agenttrust.db"}
		for range 2 {
			if err, log := d.serve(t, false); err != nil {
				t.Fatalf("serve: %v\n%s", err, log)
			}
		}
		if _, err := sqlite.Open(t.Context(), d.db); err != nil {
			t.Fatal(err)
		}
	})
}
