package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

func TestLoadPolicyFiles(t *testing.T) {
	dir := t.TempDir()
	y := filepath.Join(dir, "p.yaml")
	j := filepath.Join(dir, "p.json")
	os.WriteFile(y, []byte(paymentsPolicy), 0o600)
	os.WriteFile(j, []byte(`{"default":"deny","rules":[{"id":"r1","effect":"allow","agents":["a"],"tools":["t"],"when":["attr.n < 3"]}],"limits":[{"id":"l1","rate":"10/m"}]}`), 0o600)
	for _, path := range []string{y, j, "testdata/cedar-10.yaml"} {
		if _, err := agenttrust.LoadPolicyFile(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestBadPolicies(t *testing.T) {
	tests := []struct {
		name, format, doc string
		rule, msg         string
	}{
		{"unknown field yaml", "yaml", "rules:\n  - id: r1\n    effect: allow\n    tool: [x]\n", "", "tool"},
		{"unknown field json", "json", `{"rules":[{"id":"r1","effect":"allow","colour":"red"}]}`, "", "colour"},
		{"unknown top-level", "yaml", "rulez: []\n", "", "rulez"},
		{"bad effect", "yaml", "rules:\n  - id: r1\n    effect: maybe\n", "", "maybe"},
		{"bad glob", "yaml", "rules:\n  - id: r1\n    effect: allow\n    tools: ['pay**']\n", "r1", "**"},
		{"reserved glob char", "yaml", "rules:\n  - id: r2\n    effect: allow\n    resources: ['a[b]']\n", "r2", "reserved"},
		{"bad condition", "yaml", "rules:\n  - id: r3\n    effect: allow\n    when: ['attr.amount <== 5']\n", "r3", "operator"},
		{"unknown condition field", "yaml", "rules:\n  - id: r4\n    effect: allow\n    when: ['colour = red']\n", "r4", "unknown field"},
		{"duplicate id", "yaml", "rules:\n  - id: r5\n    effect: allow\n  - id: r5\n    effect: deny\n", "r5", "duplicate"},
		{"missing id", "yaml", "rules:\n  - effect: allow\n", "", "no id"},
		{"bad id", "yaml", "rules:\n  - id: 'has space'\n    effect: allow\n", "has space", "id must be"},
		{"bad rate", "yaml", "rules: []\nlimits:\n  - id: l1\n    rate: fast\n", "l1", "rate"},
		{"approvers on allow", "yaml", "rules:\n  - id: r6\n    effect: allow\n    approvers: [alice]\n", "r6", "approvers"},
		{"expires in policy", "yaml", "rules:\n  - id: r7\n    effect: allow\n    when: ['expires < 2026-01-01T00:00:00Z']\n", "r7", "caveat"},
		{"trailing json", "json", `{"rules":[]} {"rules":[]}`, "", "trailing"},
		{"two yaml docs", "yaml", "rules: []\n---\nrules: []\n", "", "more than one"},
		{"unknown format", "toml", "", "", "format"},
		{"not yaml", "yaml", "rules: [", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := agenttrust.ParsePolicy([]byte(tt.doc), tt.format)
			var pe *agenttrust.PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, agenttrust.ErrInvalidPolicy) {
				t.Fatalf("want *PolicyError, got %v", err)
			}
			if pe.Rule != tt.rule {
				t.Errorf("error names rule %q, want %q (%v)", pe.Rule, tt.rule, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestPolicyFileErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path, []byte("rules:\n  - id: r1\n    effect: allow\n    when: ['attr.x ~ 1']\n  - id: r2\n    effect: allow\n    tools: ['a?']\n"), 0o600)
	_, err := agenttrust.LoadPolicyFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `rule "r1"`) || !strings.Contains(err.Error(), `rule "r2"`) {
		t.Fatalf("error should name the file and both rules: %v", err)
	}
}

func TestBadPolicyReloadKeepsOld(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	bad := &agenttrust.Policy{Rules: []agenttrust.Rule{{ID: "ok", Effect: agenttrust.Deny, Tools: []string{"payments.charge"}}, {ID: "bad", When: []string{"nope"}}}}
	if err := f.c.SetPolicy(bad); err == nil {
		t.Fatal("bad policy accepted")
	}
	if d, _ := f.c.Check(context.Background(), charge(1)); !d.Allowed() {
		t.Fatal("a rejected policy half-loaded")
	}
}

func TestPrecedence(t *testing.T) {
	rule := func(id string, e agenttrust.Effect) agenttrust.Rule {
		return agenttrust.Rule{ID: id, Effect: e, Tools: []string{"t"}}
	}
	tests := []struct {
		rules []agenttrust.Rule
		def   agenttrust.Effect
		want  agenttrust.Effect
		rule  string
	}{
		{nil, agenttrust.Deny, agenttrust.Deny, ""},
		{nil, agenttrust.Allow, agenttrust.Allow, ""},
		{[]agenttrust.Rule{rule("a", agenttrust.Allow)}, agenttrust.Deny, agenttrust.Allow, "a"},
		{[]agenttrust.Rule{rule("a", agenttrust.Allow), rule("n", agenttrust.NeedsApproval)}, agenttrust.Deny, agenttrust.NeedsApproval, "n"},
		{[]agenttrust.Rule{rule("a", agenttrust.Allow), rule("n", agenttrust.NeedsApproval), rule("d", agenttrust.Deny)}, agenttrust.Allow, agenttrust.Deny, "d"},
		{[]agenttrust.Rule{rule("a1", agenttrust.Allow), rule("a2", agenttrust.Allow)}, agenttrust.Deny, agenttrust.Allow, "a1"},
	}
	for i, tt := range tests {
		e, err := agenttrust.NewRuleEngine(&agenttrust.Policy{Default: tt.def, Rules: tt.rules})
		if err != nil {
			t.Fatal(err)
		}
		res, _ := e.Evaluate(context.Background(), &agenttrust.PolicyInput{AgentID: "x", Tool: "t"})
		if res.Effect != tt.want || res.Rule != tt.rule {
			t.Errorf("case %d: got %v %q, want %v %q", i, res.Effect, res.Rule, tt.want, tt.rule)
		}
	}
}

// TestIndexMatchesLinearScan checks the indexed engine against a plain
// reading of the precedence law over random rule sets and requests.
func TestIndexMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	agents := []string{"a1", "a2", "team-x", "svc:billing", "svc:mail"}
	tools := []string{"pay.charge", "pay.refund", "mail.read", "mail.send", "search", "x:y/z"}
	agentPats := append([]string{"*", "team-*", "svc:*", "a*", "svc:b*"}, agents...)
	toolPats := append([]string{"*", "pay.*", "mail.*", "*.read", "x:*", "x:y/*", "p*"}, tools...)
	pick := func(pool []string) []string {
		var out []string
		for range rng.IntN(3) {
			out = append(out, pool[rng.IntN(len(pool))])
		}
		return out
	}
	effects := []agenttrust.Effect{agenttrust.Allow, agenttrust.Deny, agenttrust.NeedsApproval}
	for round := range 300 {
		var p agenttrust.Policy
		for i := range 1 + rng.IntN(30) {
			r := agenttrust.Rule{ID: fmt.Sprint("r", i), Effect: effects[rng.IntN(3)], Agents: pick(agentPats), Tools: pick(toolPats)}
			if rng.IntN(3) == 0 {
				r.When = []string{fmt.Sprintf("attr.n < %d", rng.IntN(10))}
			}
			p.Rules = append(p.Rules, r)
		}
		e, err := agenttrust.NewRuleEngine(&p)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			in := &agenttrust.PolicyInput{AgentID: agents[rng.IntN(len(agents))], Tool: tools[rng.IntN(len(tools))], Attributes: map[string]any{"n": rng.IntN(10)}}
			got, _ := e.Evaluate(context.Background(), in)
			want := linearEvaluate(t, &p, in)
			if got.Effect != want.Effect || got.Rule != want.Rule {
				t.Fatalf("round %d: %s/%s: index gives %v %q, scan gives %v %q\npolicy %+v", round, in.AgentID, in.Tool, got.Effect, got.Rule, want.Effect, want.Rule, p.Rules)
			}
		}
	}
}

// TestResourceIndexMatchesLinearScan: rules sharing one agent and one
// tool, enough of them that the engine splits their list by resource
// pattern, decide as a plain reading of the precedence law does.
func TestResourceIndexMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	resources := []string{"acct-1", "acct-12", "acct-1/inbox", "acct-2/outbox", "acct-", "mailbox:alice/inbox",
		"mailbox:bob/inbox", "folder:public/a.txt", "folder:private/b", "x"}
	patterns := []string{"acct-1", "acct-12", "acct-1*", "acct-*", "acct-1/*", "acct-**", "acct-1/in*", "mailbox:alice/*",
		"mailbox:*/inbox", "*/inbox", "**", "*", "folder:public/*", "folder:**", "fold*", "x", "acct-\\*"}
	effects := []agenttrust.Effect{agenttrust.Allow, agenttrust.Deny, agenttrust.NeedsApproval}
	for round := range 200 {
		var p agenttrust.Policy
		for i := range 16 + rng.IntN(40) {
			r := agenttrust.Rule{ID: fmt.Sprint("r", i), Effect: effects[rng.IntN(3)], Agents: []string{"a1"}, Tools: []string{"pay.charge"}}
			// Mostly one resource pattern, sometimes two or none.
			for range []int{1, 1, 1, 2, 0}[rng.IntN(5)] {
				r.Resources = append(r.Resources, patterns[rng.IntN(len(patterns))])
			}
			if rng.IntN(4) == 0 {
				r.When = []string{fmt.Sprintf("attr.n < %d", rng.IntN(10))}
			}
			p.Rules = append(p.Rules, r)
		}
		e, err := agenttrust.NewRuleEngine(&p)
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range resources {
			in := &agenttrust.PolicyInput{AgentID: "a1", Tool: "pay.charge", Resource: res, Attributes: map[string]any{"n": rng.IntN(10)}}
			got, _ := e.Evaluate(context.Background(), in)
			want := linearEvaluate(t, &p, in)
			if got.Effect != want.Effect || got.Rule != want.Rule {
				t.Fatalf("round %d: resource %q: index gives %v %q, scan gives %v %q\npolicy %+v", round, res, got.Effect, got.Rule, want.Effect, want.Rule, p.Rules)
			}
		}
	}
}

// linearEvaluate applies each rule alone (a one-rule engine says whether
// it matches) and combines them by precedence, in file order.
func linearEvaluate(t *testing.T, p *agenttrust.Policy, in *agenttrust.PolicyInput) agenttrust.PolicyResult {
	rank := map[agenttrust.Effect]int{agenttrust.Deny: 3, agenttrust.NeedsApproval: 2, agenttrust.Allow: 1}
	best := agenttrust.PolicyResult{Effect: p.Default}
	bestRank := 0
	for _, r := range p.Rules {
		one, err := agenttrust.NewRuleEngine(&agenttrust.Policy{Rules: []agenttrust.Rule{r}, Default: agenttrust.Deny})
		if err != nil {
			t.Fatal(err)
		}
		res, _ := one.Evaluate(context.Background(), in)
		if res.Rule == "" {
			continue
		}
		if rank[r.Effect] > bestRank {
			best, bestRank = res, rank[r.Effect]
		}
	}
	return best
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(paymentsPolicy), "yaml")
	f.Add([]byte(`{"rules":[{"id":"r","effect":"deny","tools":["a.*"],"when":["attr.x >= 1"]}]}`), "json")
	f.Add([]byte("rules:\n  - id: r\n    effect: needs_approval\n    approvers: [a]\nlimits:\n  - id: l\n    rate: 1/s\n"), "yaml")
	f.Fuzz(func(t *testing.T, doc []byte, format string) {
		p, err := agenttrust.ParsePolicy(doc, format)
		if err != nil {
			if !errors.Is(err, agenttrust.ErrInvalidPolicy) {
				t.Fatalf("error does not match ErrInvalidPolicy: %v", err)
			}
			return
		}
		e, err := agenttrust.NewRuleEngine(p)
		if err != nil {
			t.Fatalf("parsed policy does not compile: %v", err)
		}
		e.Evaluate(context.Background(), &agenttrust.PolicyInput{AgentID: "a", Tool: "t", Attributes: map[string]any{"x": 1}})
	})
}

// TestUnevaluablePrecedence: a rule whose condition cannot be evaluated
// competes as if it matched; when it would decide, the result is a Deny
// naming it and ErrUnevaluable, otherwise the rule that outranks it
// decides as it would whatever the condition said.
func TestUnevaluablePrecedence(t *testing.T) {
	const unknown = `when: ["attr.a > 1"]`
	tests := []struct {
		name   string
		rules  string
		effect agenttrust.Effect
		rule   string
		unev   bool
	}{
		{"deny_unknown", "- {id: d1, effect: deny, " + unknown + "}\n- {id: open, effect: allow}", agenttrust.Deny, "d1", true},
		{"clean_deny_first", "- {id: d0, effect: deny, tools: [t]}\n- {id: d1, effect: deny, " + unknown + "}\n- {id: open, effect: allow}", agenttrust.Deny, "d0", false},
		{"unknown_deny_first", "- {id: d1, effect: deny, " + unknown + "}\n- {id: d0, effect: deny, tools: [t]}", agenttrust.Deny, "d1", true},
		{"deny_outranks_unknown_approval", "- {id: n1, effect: needs_approval, " + unknown + "}\n- {id: d2, effect: deny, tools: [t]}", agenttrust.Deny, "d2", false},
		{"unknown_deny_outranks_approval", "- {id: n0, effect: needs_approval}\n- {id: d1, effect: deny, " + unknown + "}", agenttrust.Deny, "d1", true},
		{"unknown_approval_outranks_allow", "- {id: open, effect: allow}\n- {id: n1, effect: needs_approval, " + unknown + "}", agenttrust.Deny, "n1", true},
		{"clean_approval_first", "- {id: n0, effect: needs_approval}\n- {id: n1, effect: needs_approval, " + unknown + "}", agenttrust.NeedsApproval, "n0", false},
		{"unknown_approval_first", "- {id: n1, effect: needs_approval, " + unknown + "}\n- {id: n0, effect: needs_approval}", agenttrust.Deny, "n1", true},
		{"unknown_allow_skipped", "- {id: a1, effect: allow, " + unknown + "}\n- {id: a2, effect: allow}", agenttrust.Allow, "a2", false},
		{"unknown_allow_only", "- {id: a1, effect: allow, " + unknown + "}", agenttrust.Deny, "", false},
		{"default_allow_unknown_deny", "- {id: d1, effect: deny, " + unknown + "}", agenttrust.Deny, "d1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "rules:\n" + indent(tt.rules)
			if tt.name == "default_allow_unknown_deny" {
				doc = "default: allow\n" + doc
			}
			p, err := agenttrust.ParsePolicy([]byte(doc), "yaml")
			if err != nil {
				t.Fatal(err)
			}
			e, err := agenttrust.NewRuleEngine(p)
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Evaluate(context.Background(), &agenttrust.PolicyInput{AgentID: "a", Tool: "t", Attributes: map[string]any{"a": "2"}})
			if errors.Is(err, agenttrust.ErrUnevaluable) != tt.unev || (err != nil && !tt.unev) {
				t.Fatalf("err = %v, want ErrUnevaluable: %v", err, tt.unev)
			}
			if res.Effect != tt.effect || res.Rule != tt.rule {
				t.Fatalf("got %v by %q, want %v by %q", res.Effect, res.Rule, tt.effect, tt.rule)
			}
		})
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
