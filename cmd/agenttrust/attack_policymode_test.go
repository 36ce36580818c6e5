package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttackPolicyModeHidesGlob: "policy mode TOOL" is how an operator
// asks what mode governs a tool before changing it. It read only the
// entry keyed by the tool's own name, so a tool a glob denies, holds for
// approval or lets through without approval was shown as "none (the
// rules decide)"; and setting a mode on the name, meant to tighten it,
// silently lifted the glob's stricter mode, since an exact name beats
// every glob: "ask" on a tool "payments.*: deny" denies lets its calls
// through with an approval. The show must name the mode that applies
// and where it comes from; a set that would loosen a mode another entry
// applies is refused, and the calls stay as they were.
func TestAttackPolicyModeHidesGlob(t *testing.T) {
	for name, tc := range map[string]struct {
		modes [][2]string // set in order, as the operator did
		// show: the mode "policy mode payments.charge" must report.
		show string
		// set, when not empty: a mode on payments.charge to be refused.
		set string
		// amount and want: a check that must decide as before.
		amount string
		want   int
	}{
		"glob deny shown":       {modes: [][2]string{{"payments.*", "deny"}}, show: "deny", amount: "40", want: exitDenied},
		"glob auto shown":       {modes: [][2]string{{"payments.*", "auto"}}, show: "auto", amount: "400", want: exitOK},
		"glob ask shown":        {modes: [][2]string{{"payments.*", "ask"}}, show: "ask", amount: "40", want: exitNeedsApproval},
		"longer glob shown":     {modes: [][2]string{{"payments.*", "auto"}, {"payments.ch*", "deny"}}, show: "deny", amount: "400", want: exitDenied},
		"ask over glob deny":    {modes: [][2]string{{"payments.*", "deny"}}, set: "ask", amount: "40", want: exitDenied},
		"auto over glob deny":   {modes: [][2]string{{"payments.*", "deny"}}, set: "auto", amount: "400", want: exitDenied},
		"auto over glob ask":    {modes: [][2]string{{"payments.*", "ask"}}, set: "auto", amount: "40", want: exitNeedsApproval},
		"auto over longer glob": {modes: [][2]string{{"payments.*", "auto"}, {"payments.ch*", "ask"}}, set: "auto", amount: "40", want: exitNeedsApproval},
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
			require.Equal(t, tc.want, check(), "the modes do not decide as the case says")
			if tc.show != "" {
				r := runCLI(t, admin, "", "policy", "mode", "payments.charge")
				require.Equal(t, exitOK, r.code, r.stderr)
				assert.Contains(t, r.stdout, "payments.charge: "+tc.show, "the mode that applies is not shown")
				assert.NotContains(t, r.stdout, "none", "the mode that applies is not shown")
			}
			if tc.set != "" {
				r := runCLI(t, admin, "", "policy", "mode", "payments.charge", tc.set)
				assert.NotEqual(t, exitOK, r.code, "a mode that loosens another entry's was set: %s", r.stdout)
				assert.Contains(t, r.stderr, "payments.")
			}
			assert.Equal(t, tc.want, check(), "the tool's calls decide otherwise now")
		})
	}
}
