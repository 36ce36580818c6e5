package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TestFirstHourUsage: mistakes a new user makes on the command line get
// one clear message, naming flags, and exit 2.
func TestFirstHourUsage(t *testing.T) {
	key := map[string]string{"AGENTTRUST_KEY": "atk_x"}
	for _, tc := range []struct {
		name    string
		args    []string
		want    string   // in stderr
		notWant []string // not in stderr
	}{
		{"server without scheme", []string{"check", "--server", "127.0.0.1:8480", "--agent", "a", "--tool", "t"},
			`--server "127.0.0.1:8480" has no scheme`, []string{"parse", "first path segment"}},
		{"server with another scheme", []string{"key", "list", "--server", "ftp://127.0.0.1"},
			"the scheme must be http or https", nil},
		{"server without host", []string{"key", "list", "--server", "http://"},
			"not a valid URL", nil},
		{"server with password", []string{"key", "list", "--server", "user:hunter2@db"},
			"has no scheme", []string{"hunter2"}},
		{"plain http elsewhere names the flag", []string{"key", "list", "--server", "http://example.com"},
			"give --insecure-http", []string{"WithInsecureHTTP"}},
		{"global flag with no command", []string{"--server", "http://127.0.0.1:1"},
			"flags go after the command", nil},
		{"global flag with an unknown command", []string{"--json", "frob"},
			"flags go after the command", nil},
		{"serve bad log format", []string{"serve", "--log-format", "xml"},
			"--log-format: want text or json", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, key, "", tc.args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, exitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not say %q", r.stderr, tc.want)
			}
			if n := strings.Count(firstLine(r.stderr), "agenttrust:"); n != 1 {
				t.Errorf("stderr %q says \"agenttrust:\" %d times", r.stderr, n)
			}
			for _, s := range tc.notWant {
				if strings.Contains(r.stderr, s) {
					t.Errorf("stderr %q says %q", r.stderr, s)
				}
			}
		})
	}
}

func TestFlagsAfterCommand(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"--server", "U", "check", "--tool", "t"}, []string{"check", "--tool", "t", "--server", "U"}},
		{[]string{"--server=U", "--json", "key", "list"}, []string{"key", "list", "--server=U", "--json"}},
		{[]string{"--json", "token", "attenuate", "--", "-x"}, []string{"token", "attenuate", "--json", "--", "-x"}},
		{[]string{"--server", "U"}, nil},
	} {
		got, ok := flagsAfterCommand(commands(), tc.in)
		if ok != (tc.want != nil) || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("flagsAfterCommand(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// TestFirstHourServer: the first-hour items that need a server.
func TestFirstHourServer(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stderr := serveInProcess(t, "--data", filepath.Join(dir, "at.db"), "--policy", pol, "--log-format", "json")
	m := keyRe.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin key printed: %s", stderr.String())
	}
	admin := m[1]
	vars := map[string]string{"AGENTTRUST_KEY": admin}
	srv := []string{"--server", url}

	t.Run("global flags before the command", func(t *testing.T) {
		r := runCLI(t, vars, "", append(srv, "--json", "check", "--agent", "billing-bot", "--tool", "payments.charge", "--attr", "amount=5")...)
		if r.code != exitOK || !strings.Contains(r.stdout, `"effect": "allow"`) {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("README curl example", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("no curl")
		}
		readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		// The README's check: the curl command (continued over lines
		// ending in a backslash) that calls /v1/actions/check.
		var cmd []string
		for _, l := range strings.Split(string(readme), "\n") {
			switch {
			case len(cmd) > 0 && strings.HasSuffix(cmd[len(cmd)-1], "\\"):
				cmd = append(cmd, l)
			case len(cmd) > 0 && strings.Contains(strings.Join(cmd, "\n"), "/v1/actions/check"):
			case strings.HasPrefix(l, "curl "):
				cmd = []string{l}
			}
		}
		if len(cmd) == 0 || !strings.Contains(strings.Join(cmd, "\n"), "/v1/actions/check") {
			t.Fatal("no curl command of /v1/actions/check in README.md")
		}
		c := exec.Command("sh", "-c", strings.Join(cmd, "\n"))
		c.Env = append(os.Environ(), "AGENTTRUST_SERVER="+url, "AGENTTRUST_KEY="+admin)
		out, err := c.CombinedOutput()
		var resp struct {
			Effect     string `json:"effect"`
			DecisionID string `json:"decision_id"`
		}
		if err != nil || json.Unmarshal(out, &resp) != nil || resp.Effect != "allow" || resp.DecisionID == "" {
			t.Errorf("README's curl: %v: %s", err, out)
		}
	})

	t.Run("missing --agent is a usage error", func(t *testing.T) {
		r := runCLI(t, vars, "", append(srv, "check", "--tool", "payments.charge")...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--agent is required") || strings.Contains(r.stderr, "agent_id") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("policy apply gives validate's reason", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(bad, []byte("rules:\n  - id: a\n    effect: sometimes\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		v := runCLI(t, vars, "", append(srv, "policy", "validate", bad)...)
		a := runCLI(t, vars, "", append(srv, "policy", "apply", bad)...)
		if v.code != exitFailure || a.code != exitFailure {
			t.Fatalf("exit %d and %d, want %d", v.code, a.code, exitFailure)
		}
		if !strings.Contains(a.stderr, `unknown effect "sometimes"`) || a.stderr != v.stderr {
			t.Errorf("apply says %q, validate %q", a.stderr, v.stderr)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		created := runCLI(t, vars, "", append(srv, "key", "create", "--agent", "bot", "--json")...)
		var k struct {
			Key struct{ ID string } `json:"key"`
			ID  string              `json:"id"`
		}
		if err := json.Unmarshal([]byte(created.stdout), &k); err != nil {
			t.Fatalf("key create: %v: %q", err, created.stdout)
		}
		keyID := k.ID
		if keyID == "" {
			keyID = k.Key.ID
		}
		for _, tc := range []struct {
			name      string
			args      []string
			out, warn string // in stdout, in stderr ("" for nothing)
			blocked   string // id to find in blocks afterwards, "" for none new
		}{
			{"dry run of an agent", []string{"--dry-run", "bot"}, "would revoke bot: agent", "", ""},
			{"dry run of an unknown id", []string{"--dry-run", "b0t"}, "would revoke b0t: matches nothing known", "", ""},
			{"a key", []string{keyID}, "API key of agent bot", "", keyID},
			{"a token-shaped id", []string{"tok_abcdefghijklmnopqrstuvwxyz"}, "shaped like a token id", "", "tok_abcdefghijklmnopqrstuvwxyz"},
			{"an agent seen in the audit trail", []string{"billing-bot"}, "agent seen in the audit trail", "", "billing-bot"},
			{"an unknown id", []string{"sess-typo"}, "matches nothing known", "warning", "sess-typo"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := runCLI(t, vars, "", append(srv, "blocks", "--json")...)
				r := runCLI(t, vars, "", append(append(srv, "revoke"), tc.args...)...)
				if r.code != exitOK || !strings.Contains(r.stdout, tc.out) {
					t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
				}
				if (tc.warn == "") != (r.stderr == "") || !strings.Contains(r.stderr, tc.warn) {
					t.Errorf("stderr %q, want a warning: %v", r.stderr, tc.warn != "")
				}
				after := runCLI(t, vars, "", append(srv, "blocks", "--json")...)
				if tc.blocked == "" && after.stdout != before.stdout {
					t.Errorf("a dry run changed the blocks: %s", after.stdout)
				}
				if tc.blocked != "" && !strings.Contains(after.stdout, `"id": "`+tc.blocked+`"`) {
					t.Errorf("%s is not blocked: %s", tc.blocked, after.stdout)
				}
			})
		}
	})

	t.Run("an error names the request in the server's log", func(t *testing.T) {
		created := runCLI(t, vars, "", append(srv, "key", "create", "--agent", "errbot", "--json")...)
		var k struct{ Secret string }
		if err := json.Unmarshal([]byte(created.stdout), &k); err != nil || k.Secret == "" {
			t.Fatalf("key create: %v: %q", err, created.stdout)
		}
		r := runCLI(t, map[string]string{"AGENTTRUST_KEY": k.Secret}, "", append(srv, "key", "list")...)
		m := regexp.MustCompile(`\(forbidden, HTTP 403, request ([0-9a-f]{32})\)`).FindStringSubmatch(r.stderr)
		if r.code != exitFailure || m == nil {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		// The access line is written once the answer has left: wait for it.
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stderr.String(), `"request_id":"`+m[1]+`"`); {
			if time.Now().After(deadline) {
				t.Fatalf("request %s is not in the server's log", m[1])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("JSON access log", func(t *testing.T) {
		found := false
		for _, l := range strings.Split(stderr.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil {
				continue
			}
			if m["route"] == "POST /v1/actions/check" && m["status"] == float64(200) && m["request_id"] != nil && m["tenant"] == "system" {
				found = true
			}
		}
		if !found {
			t.Errorf("no JSON access log line of a check: %s", stderr.String())
		}
		if n := strings.Count(stderr.String(), admin); n != 1 {
			t.Errorf("the admin key is in the output %d times, want once (its notice)", n)
		}
	})
}

// TestServeBindsFirst: with the port in use, serve exits before it makes
// anything: no database, no secrets, no admin key printed and lost.
func TestServeBindsFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	db := filepath.Join(t.TempDir(), "at.db")
	r := runCLI(t, nil, "", "serve", "--data", db, "--listen", ln.Addr().String())
	if r.code != exitFailure || !strings.Contains(r.stderr, "listen on "+ln.Addr().String()) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "atk_") {
		t.Errorf("an admin key was printed: %s", r.stderr)
	}
	for _, f := range []string{db, db + ".secrets", db + ".secrets.checkpoints"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s was created", f)
		}
	}
}

func TestVersion(t *testing.T) {
	full := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/agenttrust/agenttrust/cmd/agenttrust", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	devel := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		args []string
		want []string // in stdout
	}{
		{"command", full, []string{"version"}, []string{"VERSION   v1.2.3", "REVISION  0123456789abcdef0123456789abcdef01234567 (modified)", "TIME      2026-12-01T10:00:00Z", "GO        go1.26.0"}},
		{"flag", full, []string{"--version"}, []string{"v1.2.3", "go1.26.0"}},
		{"short flag", full, []string{"-version"}, []string{"v1.2.3"}},
		{"JSON", full, []string{"--version", "--json"}, []string{`"version": "v1.2.3"`, `"revision": "0123456789abcdef0123456789abcdef01234567"`, `"modified": true`, `"go_version": "go1.26.0"`}},
		{"work tree build", devel, []string{"version"}, []string{"VERSION  (devel)", "GO       go1.26.0"}},
		{"no build information", nil, []string{"version"}, []string{"VERSION  unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" },
				buildInfo: func() (*debug.BuildInfo, bool) { return tc.bi, tc.bi != nil }}
			if code := e.run(context.Background(), tc.args); code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout %q does not say %q", stdout.String(), w)
				}
			}
			if tc.bi == devel && strings.Contains(stdout.String(), "REVISION") {
				t.Errorf("a revision is printed without one: %q", stdout.String())
			}
		})
	}
	// The real binary's build information (a test binary's here) reads.
	if r := runCLI(t, nil, "", "version", "--json"); r.code != exitOK || !strings.Contains(r.stdout, `"go_version": "go1.`) {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}
