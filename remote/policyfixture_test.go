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
