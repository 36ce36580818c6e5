//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// The lock that keeps a second Store off an exclusive one's file must
// be the file's, not its name's: a database reached through a symbolic
// link (an operator's data directory linked to a volume, a second serve
// started with the other path during a deployment) is the same file,
// and a Store opened through the other name writes revocations the
// exclusive Store's view never sees.
func TestAttackExclusiveLockThroughSymlink(t *testing.T) {
	ctx := context.Background()
	type layout struct {
		name        string
		first, next func(real, link string) string
		opts        []sqlite.Option
	}
	realFirst := func(real, _ string) string { return real }
	linkFirst := func(_, link string) string { return link }
	cases := []layout{
		{"real then link, exclusive", realFirst, linkFirst, []sqlite.Option{sqlite.WithExclusive()}},
		{"real then link, shared", realFirst, linkFirst, nil},
		{"link then real, exclusive", linkFirst, realFirst, []sqlite.Option{sqlite.WithExclusive()}},
		{"link then real, shared", linkFirst, realFirst, nil},
	}
	failed := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			vol := filepath.Join(dir, "volume")
			data := filepath.Join(dir, "data")
			if err := os.Mkdir(vol, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(data, 0o700); err != nil {
				t.Fatal(err)
			}
			real := filepath.Join(vol, "agenttrust.db")
			link := filepath.Join(data, "agenttrust.db")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			a, err := sqlite.Open(ctx, c.first(real, link), sqlite.WithExclusive())
			if err != nil {
				t.Fatalf("first Open: %v", err)
			}
			defer a.Close()
			// Made through the link, the file is still the owner's alone.
			if fi, err := os.Stat(real); err != nil || fi.Mode().Perm() != 0o600 {
				failed++
				t.Errorf("database file made through %s: %v, %v; want mode 0600", c.first(real, link), fi.Mode(), err)
			}
			b, err := sqlite.Open(ctx, c.next(real, link), c.opts...)
			if err == nil {
				rerr := b.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok-1", Reason: "stolen", CreatedAt: time.Unix(1, 0)})
				_, blocked, berr := a.Blocked(ctx, "acme", []string{"bot", "tok-1"})
				_ = b.Close()
				failed++
				t.Errorf("a second Store opened the exclusive Store's file through another name (revoke %v; the exclusive Store sees the revocation: %v, %v)", rerr, blocked, berr)
				return
			}
			if !errors.Is(err, sqlite.ErrInUse) {
				t.Errorf("second Open: %v, want ErrInUse", err)
			}
		})
	}
	if failed > 0 {
		t.Logf("%d failures in %d cases", failed, len(cases))
	}
}
