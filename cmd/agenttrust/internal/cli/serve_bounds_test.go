package cli

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestReadMetricsToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const tok = "0123456789abcdef0123456789abcdef"
	if got, err := readMetricsToken(write("ok", tok+"\n", 0o600)); err != nil || got != tok {
		t.Errorf("token file: %q %v", got, err)
	}
	if _, err := readMetricsToken(write("short", "abc\n", 0o600)); err == nil {
		t.Error("short token accepted")
	}
	if runtime.GOOS != "windows" {
		if _, err := readMetricsToken(write("open", tok, 0o644)); !errors.Is(err, ErrSecretsExposed) {
			t.Errorf("world-readable token file: %v", err)
		}
	}
	if _, err := readMetricsToken(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// The HTTP server bounds the headers (time and size) and idle
// connections, and sets no whole-request timeout that would cut streams.
func TestHTTPServerBounds(t *testing.T) {
	hs := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if hs.ReadHeaderTimeout <= 0 || hs.ReadHeaderTimeout > 30*time.Second {
		t.Errorf("ReadHeaderTimeout %v", hs.ReadHeaderTimeout)
	}
	if hs.IdleTimeout <= 0 || hs.IdleTimeout > 5*time.Minute {
		t.Errorf("IdleTimeout %v", hs.IdleTimeout)
	}
	if hs.MaxHeaderBytes <= 0 || hs.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes %d", hs.MaxHeaderBytes)
	}
	if hs.ReadTimeout != 0 || hs.WriteTimeout != 0 {
		t.Errorf("ReadTimeout %v, WriteTimeout %v would cut the audit stream", hs.ReadTimeout, hs.WriteTimeout)
	}
}
