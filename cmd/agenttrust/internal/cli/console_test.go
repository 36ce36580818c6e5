package cli

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewWebhook(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("ok", strings.Repeat("s", 40)+"\n", 0o600)
	for _, tc := range []struct {
		name, secretFile string
		ok               bool
	}{
		{"secret file", good, true},
		{"no secret file", "", false},
		{"exposed secret file", write("open", strings.Repeat("s", 40), 0o644), false},
		{"short secret", write("short", "abc", 0o600), false},
		{"missing file", filepath.Join(dir, "missing"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ServeConfig{Listen: "0.0.0.0:8480", ApprovalWebhook: "https://hooks.example/x", ApprovalWebhookSecretFile: tc.secretFile}
			cfg.Logger = slog.New(slog.DiscardHandler)
			n, err := newWebhook(&cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("newWebhook: %v", err)
			}
			if tc.name == "exposed secret file" && !errors.Is(err, ErrSecretsExposed) {
				t.Fatalf("error %v is not ErrSecretsExposed", err)
			}
			if n != nil {
				closeWebhook(&cfg, n)
			}
		})
	}
	if got := len(consoleOption(&ServeConfig{NoConsole: true}, nil)); got != 0 {
		t.Fatalf("console mounted with NoConsole: %d options", got)
	}
}
