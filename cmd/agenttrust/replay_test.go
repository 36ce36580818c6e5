package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/replay"
)

// TestPolicyReplay makes decisions on a server under testPolicy, then
// replays them against a proposal that lowers the charge threshold and
// allows weather reads, and checks the report, as a table and as JSON.
func TestPolicyReplay(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	proposal := filepath.Join(dir, "new.yaml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	newPolicy := strings.ReplaceAll(testPolicy, "100", "30") + `  - id: weather
    effect: allow
    tools: [weather.read]
`
	if err := os.WriteFile(proposal, []byte(newPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stderr := serveInProcess(t, "--data", filepath.Join(dir, "at.db"), "--policy", pol, "--node", "replay")
	m := keyRe.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin key printed: %s", stderr.String())
	}
	vars := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": m[1]}
	for _, args := range [][]string{
		{"--tool", "payments.charge", "--attr", "amount=40"}, // allow -> needs_approval
		{"--tool", "payments.charge", "--attr", "amount=20"}, // same
		{"--tool", "customers.delete"},                       // same
		{"--tool", "weather.read"},                           // deny -> allow
		{"--tool", "weather.read"},                           // deny -> allow
	} {
		runCLI(t, vars, "", append([]string{"check", "--agent", "billing-bot"}, args...)...)
	}
	r := runCLI(t, vars, "", "policy", "replay", "--policy", proposal, "--since", "1d", "--json")
	if r.code != exitOK {
		t.Fatalf("policy replay: exit %d: %s", r.code, r.stderr)
	}
	var rep replay.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	// The admin key's creation and the policy's storing are operator
	// records, not replayed.
	if rep.Replayed != 5 || rep.Same != 2 || rep.Changed != 3 || rep.NotReplayable[replay.PhaseOperator] == 0 {
		t.Fatalf("report %+v", rep)
	}
	want := map[string]int64{"allow>needs_approval": 1, "deny>allow": 2}
	for _, e := range rep.Effects {
		if want[e.From+">"+e.To] != e.Count {
			t.Errorf("effect change %+v, want %v", e, want)
		}
	}
	if len(rep.Effects) != 2 || len(rep.Agents) != 1 || rep.Agents[0].Agent != "billing-bot" || rep.Agents[0].Changed != 3 {
		t.Errorf("effects %+v, agents %+v", rep.Effects, rep.Agents)
	}

	r = runCLI(t, vars, "", "policy", "replay", "--policy", proposal, "--since", "1d")
	for _, s := range []string{"CHANGED", "deny  ", "weather", "billing-bot", "needs_approval (big-charges)"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("table lacks %q:\n%s", s, r.stdout)
		}
	}
	// Nothing replayed before the records were made.
	r = runCLI(t, vars, "", "policy", "replay", "--policy", proposal, "--since", "2999-01-01T00:00:00Z", "--json")
	if r.code != exitOK || !strings.Contains(r.stdout, `"records": 0`) {
		t.Errorf("replay of no record: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, vars, "", "policy", "replay"); r.code != exitUsage {
		t.Errorf("replay without --policy: exit %d", r.code)
	}
}
