package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttackPolicyModeGlobOutranks: of the tool_modes keys that match a
// tool the longest glob applies, so setting a glob longer than one that
// denies (or holds for approval) lifts that mode for every tool both
// match: "payments.ch*: auto" beside "payments.*: deny" lets
// payments.charge through, though the operator only set a mode on a
// narrower glob. Such a set is refused, as it is for a tool name, and
// the calls stay as they were; a glob that matches no tool of the
// stricter one is set.
func TestAttackPolicyModeGlobOutranks(t *testing.T) {
	for name, tc := range map[string]struct {
		modes    [][2]string
		key, set string
		ok       bool // the set is allowed: no stricter glob it outranks
		amount   string
		want     int
	}{
		"longer glob auto over glob deny":  {modes: [][2]string{{"payments.*", "deny"}}, key: "payments.ch*", set: "auto", amount: "40", want: exitDenied},
		"glob ask over shorter glob deny":  {modes: [][2]string{{"*.charge", "deny"}}, key: "payments.*", set: "ask", amount: "40", want: exitDenied},
		"longer glob auto over glob ask":   {modes: [][2]string{{"payments.*", "ask"}}, key: "payments.c*", set: "auto", amount: "40", want: exitNeedsApproval},
		"glob auto beside a glob it skips": {modes: [][2]string{{"payments.*", "deny"}}, key: "shell.*", set: "auto", ok: true, amount: "40", want: exitDenied},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			pol := filepath.Join(dir, "policy.yaml")
			require.NoError(t, os.WriteFile(pol, []byte(strings.TrimPrefix(testPolicy, "\n")), 0o600))
			url, stderr := serveInProcess(t, "--data", filepath.Join(dir, "at.db"), "--policy", pol)
			m := keyRe.FindStringSubmatch(stderr.String())
			require.NotNil(t, m, "no admin key printed")
			admin := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": m[1]}
			for _, km := range tc.modes {
				r := runCLI(t, admin, "", "policy", "mode", km[0], km[1])
				require.Equal(t, exitOK, r.code, r.stderr)
			}
			check := func() int {
				return runCLI(t, admin, "", "check", "--agent", "billing-bot", "--tool", "payments.charge", "--attr", "amount="+tc.amount).code
			}
			require.Equal(t, tc.want, check())
			r := runCLI(t, admin, "", "policy", "mode", tc.key, tc.set)
			if tc.ok {
				assert.Equal(t, exitOK, r.code, r.stderr)
			} else {
				assert.NotEqual(t, exitOK, r.code, "a glob that loosens a stricter one's tools was set: %s", r.stdout)
				assert.Contains(t, r.stderr, tc.modes[0][0])
			}
			assert.Equal(t, tc.want, check(), "the tool's calls decide otherwise now")
		})
	}
}
