package cedar

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/cedar-policy/cedar-go"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"
)

// TestSchema holds schema.cedarschema to the mapping: the requests
// convert makes validate against it, and so does a policy using every
// part of the context.
func TestSchema(t *testing.T) {
	src, err := os.ReadFile("schema.cedarschema")
	if err != nil {
		t.Fatal(err)
	}
	var s schema.Schema
	s.SetFilename("schema.cedarschema")
	if err := s.UnmarshalCedar(src); err != nil {
		t.Fatal(err)
	}
	res, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	v := validate.New(res)
	full := &agenttrust.PolicyInput{
		Tenant: "acme", AgentID: "billing-bot", Tool: "payments.charge", Resource: "cust-42",
		SessionID: "s1", OnBehalfOf: "alice", HopIDs: []string{"h1"},
		RemoteAddr: netip.MustParseAddr("10.0.0.1"), Time: time.Unix(1_800_000_000, 0),
		Attributes: map[string]any{"amount": 40, "currency": "EUR"},
	}
	bare := &agenttrust.PolicyInput{Tool: "mail.read"}
	for _, in := range []*agenttrust.PolicyInput{full, bare} {
		req, _, err := new(Engine).convert(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Request(req); err != nil {
			t.Errorf("%s: %v", in.Tool, err)
		}
	}
	// A request with an attribute the schema does not declare does not
	// validate: the test can fail.
	odd := *full
	odd.Attributes = map[string]any{"amount": "forty"}
	if req, _, _ := new(Engine).convert(&odd); v.Request(req) == nil {
		t.Error("a string amount validated against amount?: Long")
	}
	policies, err := cedar.NewPolicyListFromBytes("p.cedar", []byte(`
@id("p") @effect("needs_approval") @approvers("finance-*")
permit (principal in Tenant::"acme", action == Action::"payments.charge", resource)
when {
  context.agent like "billing-*" && context.session == "s1" && context.on_behalf_of like "alice" &&
  context.tenant == "acme" && context.tool like "payments.*" && context.resource like "cust-*" &&
  context.hops.contains("h1") && context.attr has amount && context.attr.amount > 50 &&
  context has ip && context.ip.isInRange(ip("10.0.0.0/8")) &&
  context has time && context.time < datetime("2030-01-01")
};`))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range policies {
		if err := v.Policy("p", (*xast.Policy)(p.AST())); err != nil {
			t.Errorf("policy: %v", err)
		}
	}
}
