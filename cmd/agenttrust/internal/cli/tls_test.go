package cli

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/testcert"
)

func newPair(t *testing.T, name string) testcert.Pair {
	t.Helper()
	now := time.Now()
	p, err := testcert.New(name, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// served returns the common name of the certificate a handshake gets.
func served(t *testing.T, c *certFiles) string {
	t.Helper()
	cert, err := c.tlsConfig().GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || cert == nil || cert.Leaf == nil {
		t.Fatalf("GetCertificate: %v, %v", cert, err)
	}
	return cert.Leaf.Subject.CommonName
}

// rewrite replaces a file and moves its modification time on, as a
// renewal a second later would.
func rewrite(t *testing.T, path string, b []byte, mod time.Time) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func TestCertFilesReload(t *testing.T) {
	dir := t.TempDir()
	first, second := newPair(t, "first"), newPair(t, "second")
	certPath, keyPath, err := first.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	c, err := loadCertFiles(certPath, keyPath, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := served(t, c); got != "first" {
		t.Fatalf("serves %q, want first", got)
	}
	if cfg := c.tlsConfig(); cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", cfg.MinVersion)
	}

	// The certificate is renewed before its key: the new certificate
	// does not match the old key, so the old pair stays in service.
	later := time.Now().Add(time.Minute)
	rewrite(t, certPath, second.CertPEM, later)
	if got := served(t, c); got != "first" {
		t.Fatalf("with a half-written renewal, serves %q, want first", got)
	}
	if !strings.Contains(log.String(), "does not load") {
		t.Errorf("no warning for the pair that does not load: %s", log.String())
	}
	// Then the key: the new pair is served.
	rewrite(t, keyPath, second.KeyPEM, later)
	if got := served(t, c); got != "second" {
		t.Fatalf("after the renewal, serves %q, want second", got)
	}
	if !strings.Contains(log.String(), "reloaded") {
		t.Errorf("the reload was not logged: %s", log.String())
	}

	// A file missing mid-rotation keeps the pair in service.
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	if got := served(t, c); got != "second" {
		t.Fatalf("with the key file gone, serves %q, want second", got)
	}
}

func TestCertFilesRefused(t *testing.T) {
	dir := t.TempDir()
	a, b := newPair(t, "a"), newPair(t, "b")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, cert, key, want string
	}{
		{"missing certificate", filepath.Join(dir, "none.pem"), write("a.key", a.KeyPEM), "no such file"},
		{"missing key", write("a.crt", a.CertPEM), filepath.Join(dir, "none.key"), "no such file"},
		{"mismatched pair", write("a2.crt", a.CertPEM), write("b.key", b.KeyPEM), "private key does not match"},
		{"not PEM", write("junk.crt", []byte("not a certificate")), write("a3.key", a.KeyPEM), "TLS key pair"},
		{"key as certificate", write("k.crt", a.KeyPEM), write("a4.key", a.KeyPEM), "TLS key pair"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadCertFiles(tc.cert, tc.key, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----") {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

func TestServeConfigTLSBoth(t *testing.T) {
	for _, cfg := range []ServeConfig{
		{Listen: DefaultListen, SQLite: "x.db", Notice: os.Stderr, TLSCert: "c.pem"},
		{Listen: DefaultListen, SQLite: "x.db", Notice: os.Stderr, TLSKey: "k.pem"},
	} {
		if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "both a TLS certificate and its key") {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}
