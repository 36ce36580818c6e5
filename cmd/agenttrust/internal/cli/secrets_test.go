package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// ascending returns the bytes 0, 1, ... n-1: a fixed stream that, unlike
// one byte repeated, a broken source would not produce.
func ascending(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestSecretsRoundTrip(t *testing.T) {
	s, err := GenerateSecrets(bytes.NewReader(ascending(128)))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.MasterKeys) != 1 || len(s.MasterKeys[0].Secret) != 32 || len(s.SigningKeys) != 1 {
		t.Fatalf("generated %v", s)
	}
	path := filepath.Join(t.TempDir(), "secrets")
	if err := WriteSecrets(path, s); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	got, err := LoadSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.MasterKeys[0].ID != s.MasterKeys[0].ID || !bytes.Equal(got.MasterKeys[0].Secret, s.MasterKeys[0].Secret) ||
		got.SigningKeys[0].ID != s.SigningKeys[0].ID || !bytes.Equal(got.SigningKeys[0].Secret, s.SigningKeys[0].Secret) {
		t.Errorf("loaded secrets differ from those written")
	}
	if err := WriteSecrets(path, s); !errors.Is(err, fs.ErrExist) {
		t.Errorf("a second write: %v, want fs.ErrExist", err)
	}
	if _, err := LoadSecrets(filepath.Join(t.TempDir(), "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

func TestSecretsRedacted(t *testing.T) {
	s, err := GenerateSecrets(nil)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "secrets", s)
	js, _ := json.Marshal(s)
	for _, out := range []string{s.String(), fmt.Sprintf("%v %+v %#v", s, s, s), logged.String(), string(js)} {
		if !strings.Contains(out, "redacted") {
			t.Errorf("not redacted: %s", out)
		}
		for _, secret := range [][]byte{s.MasterKeys[0].Secret, s.SigningKeys[0].Secret} {
			if strings.Contains(out, fmt.Sprint(secret)) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
				t.Errorf("key material in %s", out)
			}
		}
	}
}

func TestLoadSecretsRefuses(t *testing.T) {
	dir := t.TempDir()
	good, err := GenerateSecrets(nil)
	if err != nil {
		t.Fatal(err)
	}
	goodPath := filepath.Join(dir, "good")
	if err := WriteSecrets(goodPath, good); err != nil {
		t.Fatal(err)
	}
	goodBody, _ := os.ReadFile(goodPath)

	if runtime.GOOS != "windows" {
		for _, mode := range []fs.FileMode{0o640, 0o604, 0o644} {
			p := filepath.Join(dir, fmt.Sprintf("mode%o", mode))
			os.WriteFile(p, goodBody, 0o600)
			os.Chmod(p, mode)
			if _, err := LoadSecrets(p); !errors.Is(err, ErrSecretsExposed) {
				t.Errorf("mode %o: %v, want ErrSecretsExposed", mode, err)
			}
		}
	}
	if _, err := LoadSecrets(dir); err == nil {
		t.Errorf("a directory was accepted")
	}

	// 32 bytes, not all zero: a zero key is refused (ErrZeroSecret).
	secret32 := `"` + strings.Repeat("Q", 43) + `="`
	for name, body := range map[string]string{
		"not json":       `nope`,
		"unknown field":  `{"version":1,"master_keys":[],"signing_keys":[],"extra":1}`,
		"bad version":    `{"version":2,"master_keys":[{"id":"m","secret":` + secret32 + `}],"signing_keys":[{"id":"s","seed":` + secret32 + `}]}`,
		"no master key":  `{"version":1,"master_keys":[],"signing_keys":[{"id":"s","seed":` + secret32 + `}]}`,
		"short secret":   `{"version":1,"master_keys":[{"id":"m","secret":"AAAA"}],"signing_keys":[{"id":"s","seed":` + secret32 + `}]}`,
		"bad seed":       `{"version":1,"master_keys":[{"id":"m","secret":` + secret32 + `}],"signing_keys":[{"id":"s","seed":"AAAA"}]}`,
		"bad id":         `{"version":1,"master_keys":[{"id":"m k","secret":` + secret32 + `}],"signing_keys":[{"id":"s","seed":` + secret32 + `}]}`,
		"duplicate id":   `{"version":1,"master_keys":[{"id":"m","secret":` + secret32 + `},{"id":"m","secret":` + secret32 + `}],"signing_keys":[{"id":"s","seed":` + secret32 + `}]}`,
		"trailing data":  string(goodBody) + `{}`,
		"base64 garbage": `{"version":1,"master_keys":[{"id":"m","secret":"!!!!"}],"signing_keys":[{"id":"s","seed":` + secret32 + `}]}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSecrets(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	// Rotation: a second key of each kind is accepted, the first mints.
	two := `{"version":1,"master_keys":[{"id":"new","secret":` + secret32 + `},{"id":"old","secret":` + secret32 + `}],"signing_keys":[{"id":"s2","seed":` + secret32 + `},{"id":"s1","seed":` + secret32 + `}]}`
	p := filepath.Join(dir, "rotated")
	os.WriteFile(p, []byte(two), 0o600)
	s, err := LoadSecrets(p)
	if err != nil || len(s.MasterKeys) != 2 || s.MasterKeys[0].ID != "new" || s.SigningKeys[0].ID != "s2" {
		t.Errorf("rotated file: %v, %v", s, err)
	}
}

func TestServeConfigErrors(t *testing.T) {
	var notice bytes.Buffer
	for name, cfg := range map[string]ServeConfig{
		"no listen":              {SQLite: "x.db", Notice: &notice},
		"no store":               {Listen: DefaultListen, Notice: &notice},
		"two stores":             {Listen: DefaultListen, SQLite: "x.db", Postgres: "postgres://x", Secrets: "s", Notice: &notice},
		"postgres no secrets":    {Listen: DefaultListen, Postgres: "postgres://x", Notice: &notice},
		"mysql and postgres":     {Listen: DefaultListen, MySQL: "u@tcp(x)/x", Postgres: "postgres://x", Secrets: "s", Notice: &notice},
		"mysql no secrets":       {Listen: DefaultListen, MySQL: "u@tcp(x)/x", Notice: &notice},
		"staleness not notify":   {Listen: DefaultListen, SQLite: "x.db", MaxStaleness: 1, Notice: &notice},
		"negative shutdown":      {Listen: DefaultListen, SQLite: "x.db", ShutdownTimeout: -1, Notice: &notice},
		"nowhere for the notice": {Listen: DefaultListen, SQLite: "x.db"},
	} {
		if err := Serve(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := Serve(context.Background(), ServeConfig{Listen: DefaultListen, SQLite: filepath.Join(t.TempDir(), "no", "dir", "x.db"), Notice: &notice}); err == nil {
		t.Errorf("a missing database directory was accepted")
	}
}

func TestPolicyFormat(t *testing.T) {
	for in, want := range map[string]string{"p.json": "json", "p.YAML": "yaml", "dir/p.yml": "yaml", "p.cedar": "cedar", "p.txt": "", "p": ""} {
		got, err := PolicyFormat(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("PolicyFormat(%q) = %q, %v", in, got, err)
		}
	}
}

func TestServeConfigIssuer(t *testing.T) {
	for _, tc := range []struct {
		cfg  ServeConfig
		want string
	}{
		{ServeConfig{Listen: "127.0.0.1:8480"}, "http://127.0.0.1:8480"},
		{ServeConfig{Listen: ":8480"}, "http://localhost:8480"},
		{ServeConfig{Listen: "0.0.0.0:8480", TLSCert: "c", TLSKey: "k"}, "https://localhost:8480"},
		{ServeConfig{Listen: "[::]:8480"}, "http://localhost:8480"},
		{ServeConfig{Listen: "[::1]:8480"}, "http://[::1]:8480"},
		{ServeConfig{Listen: "127.0.0.1:8480", Issuer: "https://at.example"}, "https://at.example"},
	} {
		if got, err := tc.cfg.issuer(); err != nil || got != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.cfg, got, err, tc.want)
		}
	}
	if _, err := (&ServeConfig{Listen: "nonsense"}).issuer(); err == nil {
		t.Error("a listen address without a port makes an issuer")
	}
}
