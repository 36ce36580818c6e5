package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testcert"
	"github.com/agenttrust/agenttrust/store/memory"
)

// cliResult is what one in-process run of the command printed and
// returned.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the command in process with the environment vars (and
// nothing of the process's own) and stdin.
func runCLI(t *testing.T, vars map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
	code := e.run(context.Background(), args)
	return cliResult{stdout.String(), stderr.String(), code}
}

// paths lists the command paths of the tree under c.
func paths(c *command, prefix []string) [][]string {
	var out [][]string
	for _, s := range c.subs {
		p := append(slices.Clone(prefix), s.name)
		out = append(out, p)
		out = append(out, paths(s, p)...)
	}
	return out
}

func TestHelpEveryCommand(t *testing.T) {
	all := paths(commands(), nil)
	if len(all) < 25 {
		t.Fatalf("only %d commands in the tree", len(all))
	}
	for _, p := range all {
		t.Run(strings.Join(p, "_"), func(t *testing.T) {
			for _, help := range []string{"--help", "-h"} {
				r := runCLI(t, nil, "", append(slices.Clone(p), help)...)
				if r.code != exitOK {
					t.Fatalf("%v %s: exit %d, stderr %q", p, help, r.code, r.stderr)
				}
				want := "Usage: agenttrust " + strings.Join(p, " ")
				if !strings.HasPrefix(r.stdout, want) {
					t.Errorf("%v %s: help starts %q, want %q", p, help, firstLine(r.stdout), want)
				}
			}
		})
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		r := runCLI(t, nil, "", args...)
		if r.code != exitOK || !strings.Contains(r.stdout, "Commands:") || !strings.Contains(r.stdout, "Exit codes:") {
			t.Errorf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
	r := runCLI(t, nil, "", "help", "key", "create")
	if r.code != exitOK || !strings.Contains(r.stdout, "--agent ID") || !strings.Contains(r.stdout, "[env AGENTTRUST_SERVER]") {
		t.Errorf("help key create: exit %d, stdout %q", r.code, r.stdout)
	}
	r = runCLI(t, nil, "", "check", "--help")
	for _, want := range []string{"0 allow", "3 deny", "4 needs approval"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check --help does not document %q", want)
		}
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func TestUsageErrors(t *testing.T) {
	key := map[string]string{"AGENTTRUST_KEY": "atk_x"}
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string // in stderr
	}{
		{"no command", nil, nil, "Usage: agenttrust <command>"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "agenttrust frobnicate"`},
		{"unknown subcommand", nil, []string{"key", "frob"}, `unknown command "agenttrust key frob"`},
		{"group without subcommand", nil, []string{"key"}, "Usage: agenttrust key <command>"},
		{"unknown flag", key, []string{"key", "list", "--frob"}, "flag provided but not defined: -frob"},
		{"missing required flag", key, []string{"key", "create"}, "--agent is required"},
		{"missing argument", key, []string{"key", "revoke"}, "want a key id"},
		{"extra argument", key, []string{"key", "list", "x"}, `unexpected argument "x"`},
		{"bad flag value", key, []string{"key", "list", "--timeout", "soon"}, "invalid value"},
		{"bad env value", map[string]string{"AGENTTRUST_KEY": "k", "AGENTTRUST_TIMEOUT": "soon"}, []string{"key", "list"}, "invalid AGENTTRUST_TIMEOUT"},
		{"no credential", nil, []string{"key", "list"}, "no credential"},
		{"key and key file", nil, []string{"key", "list", "--key", "a", "--key-file", "f"}, "not both"},
		{"plain http elsewhere", key, []string{"key", "list", "--server", "http://example.com"}, "unencrypted"},
		{"bad expiry", key, []string{"key", "create", "--agent", "a", "--expires", "soon"}, "--expires"},
		{"past expiry", key, []string{"key", "create", "--agent", "a", "--expires", "2001-01-01T00:00:00Z"}, "in the past"},
		{"check without tool", key, []string{"check", "--agent", "a"}, "--tool is required"},
		{"bad attribute", key, []string{"check", "--tool", "t", "--attr", "amount"}, "want name=value"},
		{"bad attributes object", key, []string{"check", "--tool", "t", "--attrs", "[1]"}, "--attrs"},
		{"jwt without audience", key, []string{"token", "exchange", "--jwt"}, "--jwt and --audience"},
		{"bad effect", key, []string{"audit", "query", "--effect", "maybe"}, "--effect"},
		{"bad since", key, []string{"audit", "query", "--since", "yesterday"}, "--since"},
		{"bad status", key, []string{"approvals", "list", "--status", "open"}, "--status"},
		{"policy format", key, []string{"policy", "apply", "policy.txt"}, "cannot tell the format"},
		{"policy stdin format", key, []string{"policy", "validate", "-"}, "needs --format"},
		{"serve staleness without notify", nil, []string{"serve", "--max-staleness", "1s"}, "--max-staleness needs --notify"},
		{"serve postgres without secrets", nil, []string{"serve", "--postgres", "postgres://db/x"}, "--postgres needs --secrets"},
		{"serve postgres and data", map[string]string{"AGENTTRUST_POSTGRES": "postgres://db/x", "AGENTTRUST_SECRETS": "s"}, []string{"serve", "--data", "x.db"}, "not both"},
		{"serve mysql without secrets", nil, []string{"serve", "--mysql", "u@tcp(db:3306)/x"}, "--mysql needs --secrets"},
		{"serve mysql and data", map[string]string{"AGENTTRUST_MYSQL": "u@tcp(db:3306)/x", "AGENTTRUST_SECRETS": "s"}, []string{"serve", "--data", "x.db"}, "not both"},
		{"serve mysql and postgres", nil, []string{"serve", "--mysql", "u@tcp(db:3306)/x", "--postgres", "postgres://db/x", "--secrets", "s"}, "--postgres or --mysql, not both"},
		{"serve bad proxy", nil, []string{"serve", "--trusted-proxy", "10.0.0.0/8,nonsense"}, "not a CIDR"},
		{"serve TLS certificate without key", nil, []string{"serve", "--tls-cert", "cert.pem"}, "--tls-cert and --tls-key together"},
		{"serve bad log level", nil, []string{"serve", "--log-level", "loud"}, "--log-level"},
		{"serve argument", nil, []string{"serve", "now"}, `unexpected argument "now"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.vars, "", tc.args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, exitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not say %q", r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		pos      []string
		json     bool
		caveats  []string
		parseErr bool
	}{
		{args: []string{"a"}, pos: []string{"a"}},
		{args: []string{"--json", "a"}, pos: []string{"a"}, json: true},
		{args: []string{"a", "--json"}, pos: []string{"a"}, json: true},
		{args: []string{"a", "--caveat", "x = 1", "b", "--caveat=y"}, pos: []string{"a", "b"}, caveats: []string{"x = 1", "y"}},
		{args: []string{"--", "--json"}, pos: []string{"--json"}},
		{args: []string{"a", "--", "-b", "--json"}, pos: []string{"a", "-b", "--json"}},
		{args: []string{"-"}, pos: []string{"-"}},
		{args: []string{"a", "--nope"}, parseErr: true},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(new(bytes.Buffer))
		j := fs.Bool("json", false, "")
		var cv stringList
		fs.Var(&cv, "caveat", "")
		pos, err := parseInterleaved(fs, tc.args)
		if (err != nil) != tc.parseErr {
			t.Errorf("%q: err %v", tc.args, err)
			continue
		}
		if tc.parseErr {
			continue
		}
		if !slices.Equal(pos, tc.pos) || *j != tc.json || !slices.Equal(cv, tc.caveats) {
			t.Errorf("%q: positional %q json %v caveats %q; want %q %v %q", tc.args, pos, *j, cv, tc.pos, tc.json, tc.caveats)
		}
	}
}

func TestEnvAndFlags(t *testing.T) {
	newFlags := func() (*flags, *string, *time.Duration, *bool) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(new(bytes.Buffer))
		f := &flags{FlagSet: fs, env: map[string]string{}}
		s := f.String("server", "default", "")
		d := f.Duration("shutdown-timeout", time.Second, "")
		b := f.Bool("insecure-http", false, "")
		f.envVar("server", "shutdown-timeout", "insecure-http")
		return f, s, d, b
	}
	vars := map[string]string{"AGENTTRUST_SERVER": "https://env", "AGENTTRUST_SHUTDOWN_TIMEOUT": "3s", "AGENTTRUST_INSECURE_HTTP": "true"}
	getenv := func(k string) string { return vars[k] }

	f, s, d, b := newFlags()
	if _, err := parseInterleaved(f.FlagSet, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.applyEnv(getenv); err != nil {
		t.Fatal(err)
	}
	if *s != "https://env" || *d != 3*time.Second || !*b {
		t.Errorf("from the environment: %q %v %v", *s, *d, *b)
	}

	f, s, d, _ = newFlags()
	if _, err := parseInterleaved(f.FlagSet, []string{"--server", "https://flag", "--shutdown-timeout=5s"}); err != nil {
		t.Fatal(err)
	}
	if err := f.applyEnv(getenv); err != nil {
		t.Fatal(err)
	}
	if *s != "https://flag" || *d != 5*time.Second {
		t.Errorf("flags must win over the environment: %q %v", *s, *d)
	}

	f, s, _, _ = newFlags()
	if err := f.applyEnv(func(string) string { return "" }); err != nil || *s != "default" {
		t.Errorf("no environment: %q, %v", *s, err)
	}
	if envName("trusted-proxy") != "AGENTTRUST_TRUSTED_PROXY" {
		t.Errorf("envName = %q", envName("trusted-proxy"))
	}
}

func TestCredentialSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("atk_fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		want string
	}{
		{"flag", []string{"--key", "atk_flag"}, map[string]string{"AGENTTRUST_KEY": "atk_env"}, "atk_flag"},
		{"file flag", []string{"--key-file", file}, map[string]string{"AGENTTRUST_KEY": "atk_env"}, "atk_fromfile"},
		{"env", nil, map[string]string{"AGENTTRUST_KEY": "atk_env"}, "atk_env"},
		{"file flag over both variables", []string{"--key-file", file}, map[string]string{"AGENTTRUST_KEY": "atk_env", "AGENTTRUST_KEY_FILE": file}, "atk_fromfile"},
		{"env file", nil, map[string]string{"AGENTTRUST_KEY_FILE": file}, "atk_fromfile"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f := &flags{FlagSet: fs, env: map[string]string{}}
		c := connFlags(f)
		if _, err := parseInterleaved(fs, tc.args); err != nil {
			t.Fatal(err)
		}
		got, err := c.credential(func(k string) string { return tc.vars[k] })
		if err != nil || got != tc.want {
			t.Errorf("%s: credential %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestParseHelpers(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"90m":                  now.Add(90 * time.Minute),
		"30d":                  now.Add(30 * 24 * time.Hour),
		"2027-01-01T00:00:00Z": time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, err := parseExpiry(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1h", "0s", "xd", "2020-01-01T00:00:00Z", "tomorrow"} {
		if _, err := parseExpiry(bad, now); err == nil {
			t.Errorf("parseExpiry(%q) accepted", bad)
		}
	}
	if got, _ := parseWhen("--since", "1h", now); !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("parseWhen 1h = %v", got)
	}
	if got, _ := parseWhen("--since", "7d", now); !got.Equal(now.Add(-7 * 24 * time.Hour)) {
		t.Errorf("parseWhen 7d = %v", got)
	}
	for _, bad := range []string{"-1d", "xd", "d", "99999999d", "-1h", "yesterday"} {
		if _, err := parseWhen("--since", bad, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", bad)
		}
	}

	attrs, err := parseAttrs(`{"amount": 5, "currency": "usd"}`, []string{"amount=40", "vip=true", "code=\"007\"", "note=hello world", "empty=", "list=[1,2]"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"amount": json.Number("40"), "currency": "usd", "vip": true, "code": "007",
		"note": "hello world", "empty": "", "list": []any{json.Number("1"), json.Number("2")},
	}
	gotJSON, _ := json.Marshal(attrs)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("parseAttrs = %s, want %s", gotJSON, wantJSON)
	}

	var pl prefixList
	if err := pl.Set("10.0.0.0/8, 192.168.1.1,::1"); err != nil || pl.String() != "10.0.0.0/8,192.168.1.1/32,::1/128" {
		t.Errorf("prefixList = %q, %v", pl.String(), err)
	}
	if cell("") != "-" || cell("a b") != "a b" || cell("evil\x1b[31m") != `"evil\x1b[31m"` || cell("tab\there") != `"tab\there"` {
		t.Errorf("cell does not make values safe: %q %q", cell("evil\x1b[31m"), cell("tab\there"))
	}
}

// testToken mints a real token with a local client.
func testToken(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	c, err := agenttrust.New(memory.New())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	key, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenOffline(t *testing.T) {
	tok := testToken(t)

	r := runCLI(t, nil, "", "token", "attenuate", tok, "--caveat", "tool in payments.*", "--caveat", "attr.amount <= 50")
	if r.code != exitOK {
		t.Fatalf("attenuate: exit %d: %s", r.code, r.stderr)
	}
	narrowed := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(narrowed, agenttrust.TokenPrefix) || narrowed == tok {
		t.Fatalf("attenuate printed %q", narrowed)
	}

	// inspect, with the token from stdin.
	r = runCLI(t, nil, narrowed+"\n", "token", "inspect", "-", "--json")
	if r.code != exitOK {
		t.Fatalf("inspect: exit %d: %s", r.code, r.stderr)
	}
	var info tokenView
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatal(err)
	}
	if info.AgentID != "billing-bot" || len(info.HopIDs) != 1 || !slices.Contains(info.Caveats, "attr.amount <= 50") || !slices.Contains(info.Caveats, "tool in payments.*") {
		t.Errorf("inspect: %+v", info)
	}
	r = runCLI(t, nil, "", "token", "inspect", narrowed)
	if r.code != exitOK || !strings.Contains(r.stdout, "billing-bot") || !strings.Contains(r.stdout, "CAVEATS") {
		t.Errorf("inspect table: exit %d, %q", r.code, r.stdout)
	}
	// Inspect never shows the token itself, nor its signature.
	if strings.Contains(r.stdout, narrowed[4:40]) || strings.Contains(r.stdout, narrowed[len(narrowed)-32:]) {
		t.Errorf("inspect printed the token itself")
	}

	r = runCLI(t, nil, "", "token", "inspect", "att_garbage")
	if r.code != exitFailure || r.stderr == "" {
		t.Errorf("inspect garbage: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, nil, "", "token", "attenuate", tok, "--caveat", "no such grammar")
	if r.code != exitFailure {
		t.Errorf("bad caveat: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPolicyValidateOffline(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(testPolicy), 0o600)
	os.WriteFile(bad, []byte(`{"rules":[{"id":"a","effect":"allow","when":["attr.x <=> 1"]},{"id":"a","effect":"maybe"}]}`), 0o600)

	r := runCLI(t, nil, "", "policy", "validate", "--offline", good)
	if r.code != exitOK || !strings.Contains(r.stdout, "is valid") {
		t.Errorf("good policy: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, nil, testPolicy, "policy", "validate", "--offline", "--format", "yaml", "-")
	if r.code != exitOK {
		t.Errorf("good policy from stdin: exit %d, %q", r.code, r.stderr)
	}
	r = runCLI(t, nil, "", "policy", "validate", "--offline", bad)
	if r.code != exitFailure || !strings.Contains(r.stderr, "is invalid") {
		t.Errorf("bad policy: exit %d, %q", r.code, r.stderr)
	}
	r = runCLI(t, nil, "", "policy", "validate", "--offline", filepath.Join(dir, "missing.yaml"))
	if r.code != exitFailure || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing policy: exit %d, %q", r.code, r.stderr)
	}
}

func TestUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const secret = "atk_SECRETSECRETSECRET"
	vars := map[string]string{"AGENTTRUST_SERVER": "http://" + addr, "AGENTTRUST_KEY": secret, "AGENTTRUST_RETRIES": "0"}
	for _, args := range [][]string{{"key", "list"}, {"check", "--agent", "a", "--tool", "t"}, {"audit", "verify"}} {
		r := runCLI(t, vars, "", args...)
		if r.code != exitFailure {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, r.code, exitFailure, r.stderr)
		}
		if !strings.Contains(r.stderr, "no answer from the server") {
			t.Errorf("%v: stderr %q", args, r.stderr)
		}
		if strings.Contains(r.stderr+r.stdout, secret) {
			t.Errorf("%v: the credential leaked: %q", args, r.stderr)
		}
	}
}

const testPolicy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount <= 100"]
  - id: big-charges
    effect: needs_approval
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount > 100"]
  - id: no-deletes
    effect: deny
    tools: ["*.delete"]
`

// syncBuffer is a buffer written by the server goroutine and read by the
// test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	urlRe = regexp.MustCompile(`url"?[=:]"?(https?://[^\s"]+)`) // --log-format text or json
	keyRe = regexp.MustCompile(`(?m)^\s+(atk_[A-Za-z0-9]+)\s*$`)
)

// serveInProcess runs "serve" in process until the test ends and returns
// its URL and stderr.
func serveInProcess(t *testing.T, args ...string) (url string, stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = new(syncBuffer)
	done := make(chan int, 1)
	e := &env{stdin: strings.NewReader(""), stdout: new(syncBuffer), stderr: stderr, getenv: func(string) string { return "" }}
	go func() {
		done <- e.run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--shutdown-timeout", "5s"}, args...))
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("serve exited %d: %s", code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("serve did not stop")
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := urlRe.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stderr
		}
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start: %s", stderr.String())
	return "", nil
}

func TestServeInProcess(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "at.db")
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}

	var admin string
	t.Run("first start", func(t *testing.T) {
		url, stderr := serveInProcess(t, "--data", db, "--policy", pol, "--node", "inproc")
		m := keyRe.FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("no admin key printed: %s", stderr.String())
		}
		admin = m[1]
		if !strings.Contains(stderr.String(), "shown this once") {
			t.Errorf("the notice does not say the key is shown once")
		}
		fi, err := os.Stat(db + ".secrets")
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("secrets file: %v, %v", fi, err)
		}
		vars := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": admin}

		r := runCLI(t, vars, "", "whoami", "--json")
		if r.code != exitOK || !strings.Contains(r.stdout, `"tenant": "system"`) || !strings.Contains(r.stdout, `"admin"`) {
			t.Fatalf("whoami: exit %d, %q %q", r.code, r.stdout, r.stderr)
		}
		// The --policy file was stored as the system tenant's policy.
		r = runCLI(t, vars, "", "policy", "show")
		if r.code != exitOK || r.stdout != testPolicy {
			t.Errorf("policy show: exit %d, %q", r.code, r.stdout)
		}
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"--tool", "payments.charge", "--attr", "amount=40"}, exitOK, "small-charges"},
			{[]string{"--tool", "payments.charge", "--attr", "amount=400"}, exitNeedsApproval, "APPROVAL"},
			{[]string{"--tool", "customers.delete"}, exitDenied, "no-deletes"},
			{[]string{"--tool", "weather.read"}, exitDenied, "deny"},
		} {
			r := runCLI(t, vars, "", append([]string{"check", "--agent", "billing-bot"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.want) {
				t.Errorf("check %v: exit %d (want %d), stdout %q, stderr %q", tc.args, r.code, tc.code, r.stdout, r.stderr)
			}
		}
		r = runCLI(t, vars, "", "key", "list")
		if r.code != exitOK || !strings.Contains(r.stdout, "bootstrap admin") || !strings.HasPrefix(r.stdout, "ID ") {
			t.Errorf("key list: exit %d, %q", r.code, r.stdout)
		}
		// A forbidden operation fails with exit 1 and the server's reason.
		r = runCLI(t, vars, "", "key", "create", "--agent", "bot", "--json")
		var created struct{ Secret string }
		if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || r.code != exitOK {
			t.Fatalf("key create: exit %d, %q", r.code, r.stderr)
		}
		r = runCLI(t, map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": created.Secret}, "", "key", "list")
		if r.code != exitFailure || !strings.Contains(r.stderr, "forbidden") || strings.Contains(r.stderr, created.Secret) {
			t.Errorf("agent key list: exit %d, %q", r.code, r.stderr)
		}
	})

	t.Run("restart", func(t *testing.T) {
		url, stderr := serveInProcess(t, "--data", db, "--policy", pol, "--node", "inproc")
		if strings.Contains(stderr.String(), "atk_") {
			t.Errorf("a second start printed a key: %s", stderr.String())
		}
		if !strings.Contains(stderr.String(), "policy file ignored") {
			t.Errorf("a second start did not say the policy file is ignored: %s", stderr.String())
		}
		r := runCLI(t, map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": admin}, "", "audit", "verify")
		if r.code != exitOK || !strings.Contains(r.stdout, "audit trail OK") || !strings.Contains(r.stdout, "inproc/system") {
			t.Errorf("audit verify: exit %d, %q %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("exposed secrets", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no Unix file modes")
		}
		if err := os.Chmod(db+".secrets", 0o640); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(db+".secrets", 0o600)
		r := runCLI(t, nil, "", "serve", "--data", db, "--listen", "127.0.0.1:0")
		if r.code != exitFailure || !strings.Contains(r.stderr, "readable by group or others") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("missing secrets", func(t *testing.T) {
		if err := os.Rename(db+".secrets", db+".moved"); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(db+".moved", db+".secrets")
		r := runCLI(t, nil, "", "serve", "--data", db, "--listen", "127.0.0.1:0")
		if r.code != exitFailure || !strings.Contains(r.stderr, "secrets file") || !strings.Contains(r.stderr, "missing") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
		if _, err := os.Stat(db + ".secrets"); err == nil {
			t.Errorf("new secrets were generated for an initialised store")
		}
	})

	t.Run("bad policy file", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		os.WriteFile(bad, []byte("rules: [{id: a, effect: sometimes}]"), 0o600)
		fresh := filepath.Join(dir, "fresh.db")
		r := runCLI(t, nil, "", "serve", "--data", fresh, "--policy", bad, "--listen", "127.0.0.1:0")
		if r.code != exitFailure || !strings.Contains(r.stderr, "policy") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
		if _, err := os.Stat(fresh); err == nil {
			t.Errorf("the store was created although the policy file is bad")
		}
	})
}

// TestServeTLS serves HTTPS from a certificate on disk: a client that
// trusts its authority gets through, one that does not, or that speaks
// plain HTTP, does not.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	pair, err := testcert.New("agenttrust test", now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath, err := pair.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	url, stderr := serveInProcess(t, "--data", filepath.Join(dir, "at.db"), "--tls-cert", certPath, "--tls-key", keyPath)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("listening on %s, want https", url)
	}
	if !strings.Contains(stderr.String(), "TLS certificate loaded") {
		t.Errorf("the certificate was not logged: %s", stderr.String())
	}
	m := keyRe.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin key printed: %s", stderr.String())
	}
	vars := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": m[1], "AGENTTRUST_RETRIES": "0"}

	vars["AGENTTRUST_CA_FILE"] = certPath
	if r := runCLI(t, vars, "", "whoami"); r.code != exitOK {
		t.Fatalf("whoami trusting the authority: exit %d, %q", r.code, r.stderr)
	}
	delete(vars, "AGENTTRUST_CA_FILE")
	if r := runCLI(t, vars, "", "whoami"); r.code != exitFailure || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("whoami not trusting the authority: exit %d, %q", r.code, r.stderr)
	}
	vars["AGENTTRUST_SERVER"] = "http://" + strings.TrimPrefix(url, "https://")
	if r := runCLI(t, vars, "", "whoami"); r.code != exitFailure {
		t.Errorf("plain HTTP to the TLS port: exit %d, %q", r.code, r.stderr)
	}
	vars["AGENTTRUST_SERVER"] = url
	vars["AGENTTRUST_CA_FILE"] = keyPath
	if r := runCLI(t, vars, "", "whoami"); r.code != exitUsage || !strings.Contains(r.stderr, "no PEM certificate") {
		t.Errorf("a CA file without certificates: exit %d, %q", r.code, r.stderr)
	}
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	return out
}
