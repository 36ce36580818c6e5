//go:build unix

package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttackTrustedFileInSharedDirectory: the policy file (a .cedar one
// decides every tenant's checks, read at every start), the metrics
// token file and the webhook secret file are refused when others may
// write them, but not when they sit in a directory others may write
// without the sticky bit, where any local user renames a file of their
// own over them: their policy is enforced at the next start, their token
// reads /metrics, their secret signs the approval notifications. Such a
// directory is refused for these files as for the database's.
func TestAttackTrustedFileInSharedDirectory(t *testing.T) {
	const cedarPolicy = "@id(\"all\")\npermit (principal, action, resource);\n"
	const jsonPolicy = `{"rules":[{"id":"r","effect":"allow","tools":["t"]}]}`
	secret := strings.Repeat("s", 40)
	cases := []struct {
		name, file, body string
		set              func(cfg *ServeConfig, path string)
	}{
		{"cedar policy", "p.cedar", cedarPolicy, func(cfg *ServeConfig, p string) { cfg.PolicyFile = p }},
		{"json policy", "p.json", jsonPolicy, func(cfg *ServeConfig, p string) { cfg.PolicyFile = p }},
		{"shadow policy", "s.json", jsonPolicy, func(cfg *ServeConfig, p string) { cfg.ShadowPolicyFile = p }},
		{"metrics token", "metrics.token", secret, func(cfg *ServeConfig, p string) { cfg.MetricsTokenFile = p }},
		{"webhook secret", "webhook.secret", secret, func(cfg *ServeConfig, p string) {
			cfg.ApprovalWebhook, cfg.ApprovalWebhookSecretFile = "https://hooks.example/approvals", p
		}},
	}
	pair := newPair(t, "served")
	pem := func(b []byte) string { return string(b) }
	cases = append(cases,
		struct {
			name, file, body string
			set              func(cfg *ServeConfig, path string)
		}{"TLS key", "key.pem", pem(pair.KeyPEM), func(cfg *ServeConfig, p string) {
			cert := filepath.Join(t.TempDir(), "cert.pem")
			if err := os.WriteFile(cert, pair.CertPEM, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg.TLSCert, cfg.TLSKey = cert, p
		}},
		struct {
			name, file, body string
			set              func(cfg *ServeConfig, path string)
		}{"TLS certificate", "cert.pem", pem(pair.CertPEM), func(cfg *ServeConfig, p string) {
			key := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(key, pair.KeyPEM, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg.TLSCert, cfg.TLSKey = p, key
		}},
	)
	for _, tc := range cases {
		for _, shared := range []bool{true, false} {
			name := tc.name
			if !shared {
				name = "control: " + name + " in a private directory"
			}
			t.Run(name, func(t *testing.T) {
				d := deployed(t)
				dir := filepath.Join(t.TempDir(), "conf")
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, tc.file)
				if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
					t.Fatal(err)
				}
				if shared {
					if err := os.Chmod(dir, 0o777); err != nil {
						t.Fatal(err)
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				cfg := ServeConfig{Listen: "127.0.0.1:0", Node: "n1", Notice: io.Discard, SQLite: d.db,
					Logger: slog.New(cancelOnListen{Handler: slog.NewTextHandler(io.Discard, nil), cancel: cancel})}
				tc.set(&cfg, path)
				err := Serve(ctx, cfg)
				if shared && !errors.Is(err, ErrDirectoryExposed) {
					t.Fatalf("serve: %v, want ErrDirectoryExposed", err)
				}
				if !shared && err != nil {
					t.Fatalf("serve: %v", err)
				}
			})
		}
	}
}
