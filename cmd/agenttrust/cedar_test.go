package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testCedarPolicy is testPolicy in Cedar (package cedar).
const testCedarPolicy = `
@id("small-charges")
permit (principal == Agent::"billing-bot", action == Action::"payments.charge", resource)
when { context.attr.amount <= 100 };

@id("big-charges")
@effect("needs_approval")
permit (principal == Agent::"billing-bot", action == Action::"payments.charge", resource)
when { context.attr.amount > 100 };

@id("no-deletes")
forbid (principal, action, resource)
when { context.tool like "*.delete" };
`

func TestPolicyValidateCedar(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.cedar")
	bad := filepath.Join(dir, "bad.cedar")
	os.WriteFile(good, []byte(testCedarPolicy), 0o600)
	os.WriteFile(bad, []byte(`@id("a") @efect("needs_approval") permit (principal, action, resource);
@id("a") forbid (principal, action, resource);`), 0o600)

	// Checked locally, with or without --offline: no server is named.
	for _, args := range [][]string{{good}, {"--offline", good}} {
		r := runCLI(t, nil, "", append([]string{"policy", "validate"}, args...)...)
		if r.code != exitOK || !strings.Contains(r.stdout, "is valid") {
			t.Errorf("%v: exit %d, %q %q", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runCLI(t, nil, testCedarPolicy, "policy", "validate", "--format", "cedar", "-")
	if r.code != exitOK {
		t.Errorf("stdin: exit %d, %q", r.code, r.stderr)
	}
	r = runCLI(t, nil, "", "policy", "validate", bad)
	if r.code != exitFailure || !strings.Contains(r.stderr, "is invalid") ||
		!strings.Contains(r.stderr, "unknown annotation @efect") || !strings.Contains(r.stderr, "duplicate id") {
		t.Errorf("bad policy: exit %d, %q", r.code, r.stderr)
	}
	r = runCLI(t, nil, "", "policy", "validate", "--json", bad)
	if r.code != exitFailure || !strings.Contains(r.stdout, `"valid": false`) {
		t.Errorf("bad policy, json: exit %d, %q", r.code, r.stdout)
	}
	// A Cedar file is served, not stored.
	r = runCLI(t, map[string]string{"AGENTTRUST_SERVER": "http://127.0.0.1:1", "AGENTTRUST_KEY": "atk_x"}, "", "policy", "apply", good)
	if r.code != exitUsage || !strings.Contains(r.stderr, "serve --policy") {
		t.Errorf("apply: exit %d, %q", r.code, r.stderr)
	}
}

// TestServeCedar: serve --policy FILE.cedar decides with the Cedar file,
// stores nothing and refuses stored policies, which it would not use.
func TestServeCedar(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "at.db")
	pol := filepath.Join(dir, "policy.cedar")
	yml := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte(testCedarPolicy), 0o600)
	os.WriteFile(yml, []byte(testPolicy), 0o600)

	url, stderr := serveInProcess(t, "--data", db, "--policy", pol)
	m := keyRe.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin key printed: %s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "Cedar policy file decides") {
		t.Errorf("the start does not say the Cedar file decides: %s", stderr.String())
	}
	vars := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": m[1]}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--tool", "payments.charge", "--attr", "amount=40"}, exitOK, "small-charges"},
		{[]string{"--tool", "payments.charge", "--attr", "amount=400"}, exitNeedsApproval, "APPROVAL"},
		{[]string{"--tool", "customers.delete"}, exitDenied, "no-deletes"},
		{[]string{"--tool", "weather.read"}, exitDenied, "no rule allows"},
		// The needs-approval policy cannot be evaluated: denied as the
		// rule engine denies it, with 400 invalid_request.
		{[]string{"--tool", "payments.charge"}, exitFailure, `rule "big-charges": condition cannot be evaluated (invalid_request, HTTP 400`},
	} {
		r := runCLI(t, vars, "", append([]string{"check", "--agent", "billing-bot"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("check %v: exit %d (want %d), stdout %q, stderr %q", tc.args, r.code, tc.code, r.stdout, r.stderr)
		}
	}
	// A stored policy would rule this node's tenant until its client is
	// reopened, and no other node: refused, and nothing is stored.
	r := runCLI(t, vars, "", "policy", "apply", yml)
	if r.code != exitFailure || !strings.Contains(r.stderr, "policy engine of their own") || !strings.Contains(r.stderr, "HTTP 409") {
		t.Errorf("policy apply: exit %d, %q", r.code, r.stderr)
	}
	r = runCLI(t, vars, "", "policy", "apply", "--expect-version", "0", yml)
	if r.code != exitFailure || !strings.Contains(r.stderr, "policy engine of their own") {
		t.Errorf("policy apply --expect-version 0: exit %d, %q", r.code, r.stderr)
	}
	// Which engine decides is not told to a caller who may not save a
	// policy: without a key the write is refused as unauthenticated.
	req, _ := http.NewRequest(http.MethodPut, url+"/v1/policy", strings.NewReader(`{"format":"yaml","body":"default: allow\n","expect_version":0}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("PUT /v1/policy without a key: HTTP %d, want 401", resp.StatusCode)
	}
	r = runCLI(t, vars, "", "policy", "show")
	if r.code != exitFailure || !strings.Contains(r.stderr, "no policy is stored") {
		t.Errorf("policy show: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	bad := filepath.Join(dir, "bad.cedar")
	os.WriteFile(bad, []byte(`permit (principal, action, resource`), 0o600)
	fresh := filepath.Join(dir, "fresh.db")
	r = runCLI(t, nil, "", "serve", "--data", fresh, "--policy", bad, "--listen", "127.0.0.1:0")
	if r.code != exitFailure || !strings.Contains(r.stderr, "bad.cedar") {
		t.Errorf("bad policy: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Errorf("the store was created although the policy file is bad")
	}
}
