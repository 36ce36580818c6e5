package remote_test

import (
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/store/memory"
)

// savePolicy stores policy (JSON) as tenant acme's, as its admin alice.
func (d *deployment) savePolicy(t *testing.T, policy string) {
	t.Helper()
	alice := d.client(t, "alice")
	doc, err := alice.Policy(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.ApplyPolicy(t.Context(), []byte(policy), "json", doc.Version); err != nil {
		t.Fatal(err)
	}
}

// engineClient is a client of tenant acme that decides through the
// server's evaluate route (remote.NewPolicyEngine).
func (d *deployment) engineClient(t *testing.T) *agenttrust.Client {
	t.Helper()
	engine, err := remote.NewPolicyEngine(d.url, d.keys["root"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	c, err := agenttrust.New(memory.New(), agenttrust.WithTenant("acme"), agenttrust.WithPolicyEngine(engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// localClient is a client of tenant acme deciding policy (JSON) in
// process: what every other surface must agree with.
func localClient(t *testing.T, policy string) *agenttrust.Client {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(policy), "json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithTenant("acme"), agenttrust.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// attrCase is one request of the comparisons below: tool, one attribute,
// and whether the policy allows it in process.
type attrCase struct {
	name, tool, attr string
	v                any
	allowed          bool
}

// decidesAlike asks local and other each case as agent bot, and fails
// when either decides otherwise than the case says; what names other in
// the failure.
func decidesAlike(t *testing.T, local, other agenttrust.Checker, what string, cases []attrCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			req := agenttrust.Request{AgentID: "bot", Tool: tt.tool, Attributes: map[string]any{tt.attr: tt.v}}
			ld, lerr := local.Check(t.Context(), req)
			if ld.Allowed() != tt.allowed {
				t.Fatalf("decided locally: %v %q %v; want allowed %v", ld.Effect, ld.Rule, lerr, tt.allowed)
			}
			od, oerr := other.Check(t.Context(), req)
			if od.Allowed() != tt.allowed {
				t.Fatalf("decided by %s: %v %q %v; decided locally: %v %q %v", what, od.Effect, od.Rule, oerr, ld.Effect, ld.Rule, lerr)
			}
		})
	}
}
