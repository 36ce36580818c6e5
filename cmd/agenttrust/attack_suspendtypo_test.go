package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAttackSuspendTypoSilent: "agent suspend" is the kill switch. A
// mistyped id ("biling-bot") suspended nothing that exists, yet the
// command printed "suspended biling-bot" and nothing else, so an
// operator in an incident believed the agent stopped while it went on.
// revoke warns about an id that matches nothing known; suspend must too
// (and --json must say so), still suspending the id, which may name a
// session.
func TestAttackSuspendTypoSilent(t *testing.T) {
	server, admin := startServe(t)
	vars := map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": admin}
	if res := runCLI(t, vars, "", "key", "create", "--agent", "billing-bot"); res.code != 0 {
		t.Fatalf("key create: exit %d: %s", res.code, res.stderr)
	}
	const warning = "matches no key, agent or credential"
	for _, tc := range []struct {
		name  string
		id    string
		json  bool
		known bool
	}{
		{"typo", "biling-bot", false, false},
		{"typo json", "bllling-bot", true, false},
		{"trailing space", "billing-bot ", false, false},
		{"the agent", "billing-bot", false, true},
		{"the agent json", "billing-bot", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"agent", "suspend", tc.id}
			if tc.json {
				args = append(args, "--json")
			}
			res := runCLI(t, vars, "", args...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if warned := strings.Contains(res.stderr, warning); warned == tc.known {
				t.Errorf("warned %v, want %v: stderr %q", warned, !tc.known, res.stderr)
			}
			if tc.json {
				var v struct {
					Suspended string `json:"suspended"`
					Known     *bool  `json:"known"`
				}
				if err := json.Unmarshal([]byte(res.stdout), &v); err != nil || v.Suspended != tc.id || v.Known == nil || *v.Known != tc.known {
					t.Errorf("--json %s: want suspended %q, known %v (%v)", res.stdout, tc.id, tc.known, err)
				}
			}
			// Suspended all the same: it may be a session.
			res = runCLI(t, vars, "", "blocks", "--json")
			if !strings.Contains(res.stdout, `"id": "`+tc.id+`"`) {
				t.Errorf("%q is not suspended: %s", tc.id, res.stdout)
			}
			runCLI(t, vars, "", "agent", "resume", tc.id)
		})
	}
}
