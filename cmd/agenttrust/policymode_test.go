package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agenttrust/agenttrust"
)

func TestSetToolModeKeepsYAML(t *testing.T) {
	doc := "# the payments team's policy\nrules:\n  - id: a # first\n    effect: allow\n"
	out, err := setToolMode([]byte(doc), "yaml", "payments.*", "ask")
	require.NoError(t, err)
	assert.Contains(t, string(out), "# the payments team's policy")
	assert.Contains(t, string(out), "# first")
	out, err = setToolMode(out, "yaml", "shell.run", "deny")
	require.NoError(t, err)
	out, err = setToolMode(out, "yaml", "payments.*", "auto")
	require.NoError(t, err)
	p, err := agenttrust.ParsePolicy(out, "yaml")
	require.NoError(t, err, "%s", out)
	assert.Equal(t, map[string]string{"payments.*": "auto", "shell.run": "deny"}, p.ToolModes)
	out, err = setToolMode(out, "yaml", "payments.*", "clear")
	require.NoError(t, err)
	p, err = agenttrust.ParsePolicy(out, "yaml")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"shell.run": "deny"}, p.ToolModes)

	// A flow-style tool_modes written by hand is edited too.
	out, err = setToolMode([]byte("rules: []\ntool_modes: {a: ask}\n"), "yaml", "b", "auto")
	require.NoError(t, err)
	p, err = agenttrust.ParsePolicy(out, "yaml")
	require.NoError(t, err, "%s", out)
	assert.Equal(t, map[string]string{"a": "ask", "b": "auto"}, p.ToolModes)

	for _, bad := range []string{"- a list\n", "rules: []\ntool_modes: [a]\n", "a: [unclosed\n"} {
		_, err := setToolMode([]byte(bad), "yaml", "x", "ask")
		assert.Error(t, err, bad)
	}
}

func TestSetToolModeJSON(t *testing.T) {
	out, err := setToolMode([]byte(`{"rules": [{"id": "a", "effect": "allow"}]}`), "json", "x.*", "deny")
	require.NoError(t, err)
	p, err := agenttrust.ParsePolicy(out, "json")
	require.NoError(t, err, "%s", out)
	assert.Equal(t, map[string]string{"x.*": "deny"}, p.ToolModes)
	out, err = setToolMode(out, "json", "x.*", "clear")
	require.NoError(t, err)
	assert.NotContains(t, string(out), "tool_modes")
	_, err = setToolMode([]byte(`{"tool_modes": [1]}`), "json", "x", "ask")
	assert.Error(t, err)
}

// "policy mode" against a server: set, show, effect on checks, clear; an
// approver may look but not change it.
func TestPolicyModeCommand(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	require.NoError(t, os.WriteFile(pol, []byte("# keep me\n"+strings.TrimPrefix(testPolicy, "\n")), 0o600))
	url, stderr := serveInProcess(t, "--data", filepath.Join(dir, "at.db"), "--policy", pol)
	m := keyRe.FindStringSubmatch(stderr.String())
	require.NotNil(t, m, "no admin key printed")
	admin := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": m[1]}
	check := func(amount string) int {
		return runCLI(t, admin, "", "check", "--agent", "billing-bot", "--tool", "payments.charge", "--attr", "amount="+amount).code
	}
	require.Equal(t, exitNeedsApproval, check("400"))

	r := runCLI(t, admin, "", "policy", "mode", "payments.charge", "auto")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "policy version 2")
	assert.Equal(t, exitOK, check("400"), "auto did not lift the approval")
	r = runCLI(t, admin, "", "policy", "mode", "payments.charge")
	assert.Contains(t, r.stdout, "payments.charge: auto")
	r = runCLI(t, admin, "", "policy", "show")
	assert.Contains(t, r.stdout, "# keep me")

	require.Equal(t, exitOK, runCLI(t, admin, "", "policy", "mode", "payments.*", "deny").code)
	assert.Equal(t, exitOK, check("40"), "the exact name's mode must beat the glob's")
	require.Equal(t, exitOK, runCLI(t, admin, "", "policy", "mode", "payments.charge", "clear").code)
	assert.Equal(t, exitDenied, check("40"))

	r = runCLI(t, admin, "", "key", "create", "--agent", "alice", "--role", "approver", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var created struct{ Secret string }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &created))
	secret := created.Secret
	approver := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": secret}
	r = runCLI(t, approver, "", "policy", "mode", "payments.*")
	assert.Equal(t, exitOK, r.code, r.stderr)
	r = runCLI(t, approver, "", "policy", "mode", "payments.*", "auto")
	assert.NotEqual(t, exitOK, r.code, "an approver changed a tool mode")
	assert.Equal(t, exitDenied, check("40"))

	r = runCLI(t, admin, "", "policy", "mode", "payments.*", "sometimes")
	assert.Equal(t, exitUsage, r.code)
}

// "approvals approve --remember" against a server: the grant lets like
// requests through, "approvals grants" lists it, "revoke" ends it.
func TestApproveRememberCommand(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	doc := strings.Replace(testPolicy, "    when: [\"attr.amount > 100\"]\n", "    when: [\"attr.amount > 100\"]\n    remember_uses: 3\n    remember_for: 2h\n", 1)
	require.NotEqual(t, testPolicy, doc)
	require.NoError(t, os.WriteFile(pol, []byte(doc), 0o600))
	url, stderr := serveInProcess(t, "--data", filepath.Join(dir, "at.db"), "--policy", pol)
	m := keyRe.FindStringSubmatch(stderr.String())
	require.NotNil(t, m, "no admin key printed")
	admin := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": m[1]}
	check := func(resource string) cliResult {
		return runCLI(t, admin, "", "check", "--agent", "billing-bot", "--tool", "payments.charge", "--resource", resource, "--attr", "amount=400", "--json")
	}
	r := check("cust-1")
	require.Equal(t, exitNeedsApproval, r.code, r.stderr)
	var held struct {
		ApprovalID string `json:"approval_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &held))

	r = runCLI(t, admin, "", "approvals", "approve", held.ApprovalID, "--remember", "9")
	require.Equal(t, exitFailure, r.code, "a grant beyond the rule's remember_uses: %s", r.stdout)
	r = runCLI(t, admin, "", "approvals", "approve", held.ApprovalID, "--remember", "2", "--remember-for", "1h", "--remember-resources", "cust-*", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var approved struct {
		GrantID string `json:"grant_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &approved))
	require.True(t, strings.HasPrefix(approved.GrantID, "grt_"), r.stdout)

	assert.Equal(t, exitOK, check("cust-1").code, "the approval's own request")
	assert.Equal(t, exitOK, check("cust-2").code, "a request the grant covers")
	r = runCLI(t, admin, "", "approvals", "grants")
	assert.Contains(t, r.stdout, approved.GrantID)
	require.Equal(t, exitOK, runCLI(t, admin, "", "revoke", approved.GrantID).code)
	assert.Equal(t, exitNeedsApproval, check("cust-3").code, "a revoked grant let a request through")
}
