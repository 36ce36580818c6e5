package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// The cedar-10 scenario in each engine's own language: the rules
// (agenttrust), the policies and entities (cedar-go), the Rego module and
// its data document (OPA). The tests in this module load the same files.
//
//go:embed testdata/cedar-10.yaml testdata/cedar-10.cedar testdata/cedar-10.entities.json testdata/cedar-10.rego testdata/cedar-10.data.json
var scenarioFiles embed.FS

// request is one authorization question, asked of every engine in its
// own form: agent, tool and resource, and the request's attributes
// (Cedar's context, OPA's input.context). Attribute values are ints and
// bools, which all three engines read alike.
type request struct {
	agent, tool, resource string
	attrs                 map[string]any
}

// The two requests the benchmark times: a1 transferring 42 is allowed by
// a1-small-transfers; 60 is over its limit and nothing else allows it.
var (
	allowRequest = request{agent: "a1", tool: "transfer", resource: "acct-1", attrs: map[string]any{"amount": 42}}
	denyRequest  = request{agent: "a1", tool: "transfer", resource: "acct-1", attrs: map[string]any{"amount": 60}}
)

// engine is one policy engine loaded with one policy set. prepare turns a
// request into the engine's own input, once, and returns the decision
// on it: what the benchmark times, and what the tests compare across
// engines.
type engine interface {
	prepare(req request) (decide func() (bool, error), err error)
}

// The synthetic rules added to the ten: four shapes real policies have,
// written in each language the way that language says them, none of
// which decides the benchmark's requests.
//
//	0: agent-i may transfer
//	1: agents named team-i-* may use tool-i (Cedar: members of Team::"team-i")
//	2: a1 may not use tools named tool-i.* (Cedar: the action group Action::"tool-i")
//	3: agent-i may use tool-i when amount < 10

// syntheticRules is the agenttrust form; BenchmarkCheck/policy-100k in
// this module's tests uses the same shapes.
func syntheticRules(n int) []agenttrust.Rule {
	rules := make([]agenttrust.Rule, 0, n)
	for i := range n {
		r := agenttrust.Rule{ID: fmt.Sprintf("synthetic-%d", i), Effect: agenttrust.Allow}
		switch i % 4 {
		case 0:
			r.Agents, r.Tools = []string{fmt.Sprintf("agent-%d", i)}, []string{"transfer"}
		case 1:
			r.Agents, r.Tools = []string{fmt.Sprintf("team-%d-*", i)}, []string{fmt.Sprintf("tool-%d", i)}
		case 2:
			r.Agents, r.Tools = []string{"a1"}, []string{fmt.Sprintf("tool-%d.*", i)}
			r.Effect = agenttrust.Deny
		case 3:
			r.Agents, r.Tools = []string{fmt.Sprintf("agent-%d", i)}, []string{fmt.Sprintf("tool-%d", i)}
			r.When = []string{"attr.amount < 10"}
		}
		rules = append(rules, r)
	}
	return rules
}

func syntheticCedar(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "permit (principal == Agent::\"agent-%d\", action == Action::\"transfer\", resource);\n", i)
		case 1:
			fmt.Fprintf(&b, "permit (principal in Team::\"team-%d\", action == Action::\"tool-%d\", resource);\n", i, i)
		case 2:
			fmt.Fprintf(&b, "forbid (principal == Agent::\"a1\", action in Action::\"tool-%d\", resource);\n", i)
		case 3:
			fmt.Fprintf(&b, "permit (principal == Agent::\"agent-%d\", action == Action::\"tool-%d\", resource)\nwhen { context.amount < 10 };\n", i, i)
		}
	}
	return b.Bytes()
}

// syntheticRego writes each rule so that OPA's rule index can rule it out
// without evaluating it: equality on input.principal or input.action, and
// glob.match on an input field with constant pattern and delimiters.
func syntheticRego(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "\npermit if {\n\tinput.principal == \"agent-%d\"\n\tinput.action == \"transfer\"\n}\n", i)
		case 1:
			fmt.Fprintf(&b, "\npermit if {\n\tinput.action == \"tool-%d\"\n\tglob.match(\"team-%d-*\", [\"-\"], input.principal)\n}\n", i, i)
		case 2:
			fmt.Fprintf(&b, "\nforbid if {\n\tinput.principal == \"a1\"\n\tglob.match(\"tool-%d.*\", [\".\"], input.action)\n}\n", i)
		case 3:
			fmt.Fprintf(&b, "\npermit if {\n\tinput.principal == \"agent-%d\"\n\tinput.action == \"tool-%d\"\n\tinput.context.amount < 10\n}\n", i, i)
		}
	}
	return b.Bytes()
}

// benchMasterKey derives the root keys of the agenttrust tokens the
// credentials section mints; the macaroon.v2 case derives the same root
// key from it as the README documents.
var benchMasterKey = agenttrust.SecretKey{ID: "bench", Secret: []byte("agenttrust bench master key, 32+ bytes long")}

// newAgenttrust returns a client over the memory store with the ten rules
// and extra synthetic ones, auditing to its default in-memory ring.
func newAgenttrust(extra int, opts ...agenttrust.Option) (*agenttrust.Client, error) {
	src, err := scenarioFiles.ReadFile("testdata/cedar-10.yaml")
	if err != nil {
		return nil, err
	}
	p, err := agenttrust.ParsePolicy(src, "yaml")
	if err != nil {
		return nil, err
	}
	p.Rules = append(p.Rules, syntheticRules(extra)...)
	return agenttrust.New(memory.New(), append([]agenttrust.Option{
		agenttrust.WithPolicy(p),
		// The longest lifetime, so that no token expires during a long run.
		agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{benchMasterKey}, TTL: 24 * time.Hour}),
	}, opts...)...)
}

// agenttrustEngine times Client.Check: validation, revocation, policy,
// decision id and audit record, as an application calls it.
type agenttrustEngine struct{ c *agenttrust.Client }

func (e agenttrustEngine) prepare(r request) (func() (bool, error), error) {
	req := agenttrust.Request{AgentID: r.agent, Tool: r.tool, Resource: r.resource, Attributes: r.attrs}
	ctx := context.Background()
	return func() (bool, error) {
		d, err := e.c.Check(ctx, req)
		return d.Allowed(), err
	}, nil
}

// cedarEngine times cedar.Authorize on a policy set and entity map.
type cedarEngine struct {
	ps       *cedar.PolicySet
	entities cedar.EntityMap
}

func newCedar(extra int) (cedarEngine, error) {
	src, err := scenarioFiles.ReadFile("testdata/cedar-10.cedar")
	if err != nil {
		return cedarEngine{}, err
	}
	src = append(append(src, '\n'), syntheticCedar(extra)...)
	ps, err := cedar.NewPolicySetFromBytes("cedar-10.cedar", src)
	if err != nil {
		return cedarEngine{}, err
	}
	data, err := scenarioFiles.ReadFile("testdata/cedar-10.entities.json")
	if err != nil {
		return cedarEngine{}, err
	}
	var entities cedar.EntityMap
	if err := json.Unmarshal(data, &entities); err != nil {
		return cedarEngine{}, err
	}
	return cedarEngine{ps: ps, entities: entities}, nil
}

func (e cedarEngine) prepare(r request) (func() (bool, error), error) {
	ctx := cedar.RecordMap{}
	for k, v := range r.attrs {
		switch v := v.(type) {
		case int:
			ctx[cedar.String(k)] = cedar.Long(v)
		case bool:
			ctx[cedar.String(k)] = cedar.Boolean(v)
		default:
			return nil, fmt.Errorf("cedar: attribute %s: unsupported %T", k, v)
		}
	}
	req := cedar.Request{
		Principal: cedar.NewEntityUID("Agent", cedar.String(r.agent)),
		Action:    cedar.NewEntityUID("Action", cedar.String(r.tool)),
		Resource:  cedar.NewEntityUID("Account", cedar.String(r.resource)),
		Context:   cedar.NewRecord(ctx),
	}
	return func() (bool, error) {
		d, diag := cedar.Authorize(e.ps, e.entities, req)
		if len(diag.Errors) > 0 {
			return false, fmt.Errorf("cedar: %s", diag.Errors[0].Message)
		}
		return d == cedar.Allow, nil
	}, nil
}

// opaEngine times a prepared query of data.agenttrust.allow, the way
// OPA is embedded in a Go program: module compiled once, entities in the
// in-memory store, input handed over already in OPA's own value form.
type opaEngine struct{ pq rego.PreparedEvalQuery }

func newOPA(extra int) (opaEngine, error) {
	src, err := scenarioFiles.ReadFile("testdata/cedar-10.rego")
	if err != nil {
		return opaEngine{}, err
	}
	src = append(src, syntheticRego(extra)...)
	data, err := scenarioFiles.ReadFile("testdata/cedar-10.data.json")
	if err != nil {
		return opaEngine{}, err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return opaEngine{}, err
	}
	pq, err := rego.New(
		rego.Query("data.agenttrust.allow"),
		rego.Module("cedar-10.rego", string(src)),
		rego.Store(inmem.NewFromObject(doc)),
	).PrepareForEval(context.Background())
	if err != nil {
		return opaEngine{}, fmt.Errorf("opa: %w", err)
	}
	return opaEngine{pq: pq}, nil
}

func (e opaEngine) prepare(r request) (func() (bool, error), error) {
	attrs, err := ast.InterfaceToValue(r.attrs)
	if err != nil {
		return nil, fmt.Errorf("opa: %w", err)
	}
	input := ast.NewObject(
		[2]*ast.Term{ast.StringTerm("principal"), ast.StringTerm(r.agent)},
		[2]*ast.Term{ast.StringTerm("action"), ast.StringTerm(r.tool)},
		[2]*ast.Term{ast.StringTerm("resource"), ast.StringTerm(r.resource)},
		[2]*ast.Term{ast.StringTerm("context"), ast.NewTerm(attrs)},
	)
	ctx := context.Background()
	return func() (bool, error) {
		rs, err := e.pq.Eval(ctx, rego.EvalParsedInput(input))
		if err != nil {
			return false, err
		}
		if len(rs) != 1 || len(rs[0].Expressions) != 1 {
			return false, fmt.Errorf("opa: %d results", len(rs))
		}
		allow, ok := rs[0].Expressions[0].Value.(bool)
		if !ok {
			return false, fmt.Errorf("opa: allow is %T", rs[0].Expressions[0].Value)
		}
		return allow, nil
	}, nil
}

// engines loads the scenario with n policies (n >= 10) into all three
// engines, in the order the table shows them.
func engines(n int) (names []string, es []engine, closeAll func(), err error) {
	if n < 10 {
		return nil, nil, nil, fmt.Errorf("at least the scenario's 10 policies, not %d", n)
	}
	c, err := newAgenttrust(n - 10)
	if err != nil {
		return nil, nil, nil, err
	}
	ce, err := newCedar(n - 10)
	if err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	oe, err := newOPA(n - 10)
	if err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	return []string{"agenttrust", "cedar-go", "OPA"}, []engine{agenttrustEngine{c}, ce, oe}, func() { c.Close() }, nil
}

// String names a request in messages.
func (r request) String() string {
	var kv []string
	for k, v := range r.attrs {
		kv = append(kv, fmt.Sprintf("%s=%v", k, v))
	}
	return fmt.Sprintf("%s %s %s {%s}", r.agent, r.tool, r.resource, strings.Join(kv, ","))
}
