//go:build unix

package cli

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"
)

// TestAttackTLSKeyReadableByOthers: the TLS private key is a secret like
// the secrets file: a local user who reads it can pose as the server to
// its clients and collect the API keys they send as bearers. serve
// refused an exposed secrets file but served with a key file any user
// could read (a copy made under umask 022), or that another user owns and
// may swap, at start and when a renewal brought one.
func TestAttackTLSKeyReadableByOthers(t *testing.T) {
	const nobody = 65534
	cases := []struct {
		name   string
		expose func(t *testing.T, keyPath string)
		reload bool // exposed by a renewal, after a good start
	}{
		{"key readable by others", func(t *testing.T, keyPath string) { os.Chmod(keyPath, 0o644) }, false},
		{"key writable by its group", func(t *testing.T, keyPath string) { os.Chmod(keyPath, 0o660) }, false},
		{"key of another user", func(t *testing.T, keyPath string) {
			if os.Geteuid() != 0 {
				t.Skip("making a file of another user needs root")
			}
			if err := os.Chown(keyPath, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"renewed key readable by others", func(t *testing.T, keyPath string) {
			second := newPair(t, "second")
			later := time.Now().Add(time.Minute)
			rewrite(t, keyPath, second.KeyPEM, later)
			rewrite(t, keyPath[:len(keyPath)-len("key.pem")]+"cert.pem", second.CertPEM, later)
			os.Chmod(keyPath, 0o644)
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			certPath, keyPath, err := newPair(t, "first").Write(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&log, nil))
			if !tc.reload {
				tc.expose(t, keyPath)
				_, err := loadCertFiles(certPath, keyPath, logger)
				if !errors.Is(err, ErrSecretsExposed) {
					t.Fatalf("loadCertFiles: %v, want ErrSecretsExposed", err)
				}
				return
			}
			c, err := loadCertFiles(certPath, keyPath, logger)
			if err != nil {
				t.Fatal(err)
			}
			tc.expose(t, keyPath)
			if got := served(t, c); got != "first" {
				t.Fatalf("serving %q, loaded from an exposed key file; want the previous certificate", got)
			}
		})
	}
}
