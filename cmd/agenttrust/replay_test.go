package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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

// TestPolicyShadow serves with a shadow policy that lowers the charge
// threshold: checks decide as the live policy says, and "policy shadow"
// lists where the shadow disagreed.
func TestPolicyShadow(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	shadow := filepath.Join(dir, "shadow.yaml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shadow, []byte(strings.ReplaceAll(testPolicy, "100", "30")), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stderr := serveInProcess(t, "--data", filepath.Join(dir, "at.db"), "--policy", pol, "--shadow-policy", shadow, "--node", "shadow")
	m := keyRe.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin key printed: %s", stderr.String())
	}
	vars := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": m[1]}
	for _, tc := range []struct {
		amount string
		code   int
	}{{"40", exitOK}, {"50", exitOK}, {"20", exitOK}, {"400", exitNeedsApproval}} {
		// The live policy decides: 40 and 50 are allowed though the
		// shadow would hold them for approval.
		if r := runCLI(t, vars, "", "check", "--agent", "billing-bot", "--tool", "payments.charge", "--attr", "amount="+tc.amount); r.code != tc.code {
			t.Errorf("check amount=%s: exit %d, want %d: %s", tc.amount, r.code, tc.code, r.stderr)
		}
	}
	r := runCLI(t, vars, "", "policy", "shadow", "--since", "1h", "--json")
	if r.code != exitOK {
		t.Fatalf("policy shadow: exit %d: %s", r.code, r.stderr)
	}
	var rep shadowReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	want := []shadowChange{{Effect: "allow", Rule: "small-charges", ShadowEffect: "needs_approval", ShadowRule: "big-charges", Agents: 1, Count: 2}}
	if rep.Disagreements != 2 || !slices.Equal(rep.Changes, want) || len(rep.Latest) != 2 || rep.Latest[1].ShadowEffect != "needs_approval" {
		t.Fatalf("shadow report %+v", rep)
	}
	r = runCLI(t, vars, "", "policy", "shadow")
	for _, s := range []string{"2 of ", "small-charges", "needs_approval", "big-charges", "latest:"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("table lacks %q:\n%s", s, r.stdout)
		}
	}
	// The shadow file must be a valid policy, or serve does not start.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("rules: [{id: x, effect: maybe}]\n"), 0o600)
	e := &env{stdin: strings.NewReader(""), stdout: new(syncBuffer), stderr: new(syncBuffer), getenv: func(string) string { return "" }}
	if code := e.run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "b.db"), "--shadow-policy", bad}); code == exitOK {
		t.Errorf("serve started with an invalid shadow policy")
	}
}

// TestPolicyAdvise: on a server under testPolicy where only small
// charges were made, advise names the unused grants and proposes the
// policy narrowed to the agent that charged, checked by replay.
func TestPolicyAdvise(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	wide := testPolicy + `  - id: weather
    effect: allow
    tools: [weather.*]
`
	if err := os.WriteFile(pol, []byte(wide), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stderr := serveInProcess(t, "--data", filepath.Join(dir, "at.db"), "--policy", pol, "--node", "advise")
	m := keyRe.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin key printed: %s", stderr.String())
	}
	vars := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": m[1]}
	runCLI(t, vars, "", "check", "--agent", "billing-bot", "--tool", "payments.charge", "--attr", "amount=40")
	runCLI(t, vars, "", "check", "--agent", "ops-bot", "--tool", "weather.read")
	runCLI(t, vars, "", "check", "--agent", "billing-bot", "--tool", "customers.delete")
	r := runCLI(t, vars, "", "policy", "advise", "--json")
	if r.code != exitOK {
		t.Fatalf("policy advise: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		UnusedGrants []string `json:"unused_grants"`
		NeverMatched []string `json:"never_matched"`
		Uncalled     []struct {
			Agent string   `json:"agent"`
			Tools []string `json:"tools"`
		} `json:"uncalled"`
		Diff  string        `json:"diff"`
		Check replay.Report `json:"check"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if !slices.Equal(out.UnusedGrants, []string{"big-charges"}) || !slices.Equal(out.NeverMatched, []string{"big-charges"}) {
		t.Errorf("unused %v, never matched %v", out.UnusedGrants, out.NeverMatched)
	}
	if len(out.Uncalled) != 1 || out.Uncalled[0].Agent != "billing-bot" || !slices.Equal(out.Uncalled[0].Tools, []string{"weather.read"}) {
		t.Errorf("uncalled %+v", out.Uncalled)
	}
	if !strings.Contains(out.Diff, "+        - ops-bot\n") || !strings.Contains(out.Diff, "-        - weather.*\n") || out.Check.Changed != 0 || out.Check.Replayed != 3 {
		t.Errorf("diff %s\ncheck %+v", out.Diff, out.Check)
	}
	r = runCLI(t, vars, "", "policy", "advise", "--since", "1d")
	for _, s := range []string{"grants never used: big-charges", "tools an agent may call but never did", "+        - ops-bot", "0 allowed ones no longer allowed"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("advice lacks %q:\n%s", s, r.stdout)
		}
	}
}
