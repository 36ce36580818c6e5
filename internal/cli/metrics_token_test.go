package cli

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
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
