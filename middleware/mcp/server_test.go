package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

var agentCtx = agenttrust.WithAgent(context.Background(), "billing-bot", "session-1")

func TestServerMiddlewareCalls(t *testing.T) {
	c := newClient(t)
	srv, ran := newServer(atmcp.ServerMiddleware(c, atmcp.ResourceArg("customer")))
	cs := connect(t, agentCtx, srv, nil)

	tests := []struct {
		name    string
		tool    string
		args    any
		allowed bool
		want    string // in the text of a refusal
	}{
		{"allowed by rule", "payments.charge", map[string]any{"customer": "cust-1", "amount": 40}, true, ""},
		{"condition on a number", "payments.charge", map[string]any{"customer": "cust-1", "amount": 50.5}, false, "needs a person's approval"},
		{"deny rule", "customers.delete", map[string]any{"customer": "cust-1"}, false, "permission denied (agents never delete customer data)"},
		{"no rule", "admin.shutdown", nil, false, "permission denied (no rule allows this action)"},
		{"resource from argument", "reports.get", map[string]any{"customer": "cust-9"}, true, ""},
		{"resource outside the rule", "reports.get", map[string]any{"customer": "acme"}, false, "permission denied"},
		{"numeric resource", "reports.get", map[string]any{"customer": 42}, false, "permission denied"},
		{"resource not a string", "reports.get", map[string]any{"customer": map[string]any{"id": "cust-1"}}, false, "the tool call is invalid"},
		{"resource string like JSON", "reports.get", map[string]any{"customer": "[cust-1]"}, false, "permission denied"},
		{"same name twice", "payments.charge", json.RawMessage(`{"amount":10,"Amount":900}`), false, "appears twice"},
		{"unknown tool", "no.such.tool", nil, false, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ran.total()
			res := call(t, cs, tt.tool, tt.args)
			if tt.allowed {
				if res.IsError || text(res) != "ran "+tt.tool || ran.total() != before+1 {
					t.Fatalf("allowed call: IsError=%v text=%q ran %d times", res.IsError, text(res), ran.total()-before)
				}
				return
			}
			if !res.IsError {
				t.Fatalf("refused call: IsError not set, text %q", text(res))
			}
			if !strings.Contains(text(res), tt.want) {
				t.Errorf("text %q does not contain %q", text(res), tt.want)
			}
			if n := ran.total() - before; n != 0 {
				t.Errorf("refused call reached a handler %d times", n)
			}
			if res.Meta[atmcp.MetaDecisionID] == nil && tt.want != "appears twice" && tt.want != "the tool call is invalid" {
				t.Errorf("refusal without %s in _meta: %v", atmcp.MetaDecisionID, res.Meta)
			}
		})
	}
	if id := ran.id; id.AgentID != "billing-bot" {
		t.Errorf("handler context identity = %+v", id)
	}
}

func TestServerMiddlewareApproval(t *testing.T) {
	c := newClient(t)
	srv, ran := newServer(atmcp.ServerMiddleware(c))
	cs := connect(t, agentCtx, srv, nil)
	args := map[string]any{"customer": "cust-1", "amount": 120}

	res := call(t, cs, "payments.charge", args)
	id, _ := res.Meta[atmcp.MetaApprovalID].(string)
	if !res.IsError || id == "" || res.Meta[atmcp.MetaEffect] != "needs_approval" {
		t.Fatalf("needs approval: IsError=%v meta=%v", res.IsError, res.Meta)
	}
	if want := "approval id " + id; !strings.Contains(text(res), want) || !strings.Contains(text(res), "charges over $50 need a human") {
		t.Errorf("text %q lacks %q or the reason", text(res), want)
	}
	if ran.get("payments.charge") != 0 {
		t.Fatal("held call reached the handler")
	}

	if err := c.Approve(context.Background(), id, "alice@example.com", "ok"); err != nil {
		t.Fatal(err)
	}
	if res := call(t, cs, "payments.charge", args); res.IsError || ran.get("payments.charge") != 1 {
		t.Fatalf("approved call: IsError=%v text=%q", res.IsError, text(res))
	}
	// Granted once: the same call needs a new approval.
	if res := call(t, cs, "payments.charge", args); !res.IsError || ran.get("payments.charge") != 1 {
		t.Fatalf("second call after one approval: IsError=%v text=%q", res.IsError, text(res))
	}
}

func TestServerMiddlewareFailsClosed(t *testing.T) {
	down := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
		return agenttrust.Decision{Reason: "store unavailable"}, fmt.Errorf("%w: connection refused", agenttrust.ErrStoreUnavailable)
	})
	// A checker that errs and claims Allow anyway must still be refused.
	liar := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
		return agenttrust.Decision{Effect: agenttrust.Allow}, agenttrust.ErrAuditUnavailable
	})
	tests := []struct {
		name    string
		checker agenttrust.Checker
		ctx     context.Context
		want    string
	}{
		{"store unavailable", down, agentCtx, "authorization is temporarily unavailable"},
		{"error with allow", liar, agentCtx, "temporarily unavailable"},
		{"nil checker", nil, agentCtx, "misconfigured"},
		{"no identity", newClient(t), context.Background(), "agent id is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ran := newServer(atmcp.ServerMiddleware(tt.checker))
			cs := connect(t, tt.ctx, srv, nil)
			res := call(t, cs, "calendar.read", nil)
			if !res.IsError || !strings.Contains(text(res), tt.want) {
				t.Errorf("IsError=%v text=%q, want %q", res.IsError, text(res), tt.want)
			}
			if ran.total() != 0 {
				t.Error("handler ran")
			}
		})
	}
}

func TestServerMiddlewareListTools(t *testing.T) {
	c := newClient(t)
	filter, err := atmcp.PolicyListFilter(parsePolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := newServer(atmcp.ServerMiddleware(c, atmcp.WithListFilter(filter)))

	tests := []struct {
		name string
		ctx  context.Context
		want []string
	}{
		// payments.charge is allowed only for some amounts, reports.get
		// only for some resources: both stay. customers.delete is denied
		// outright and admin.shutdown has no rule.
		{"billing-bot", agentCtx, []string{"payments.charge", "calendar.read", "reports.get"}},
		{"agent without rules", agenttrust.WithAgent(context.Background(), "intern-bot", ""), nil},
		{"unknown agent", agenttrust.WithCredential(context.Background(), "att_unverified"), testTools},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := connect(t, tt.ctx, srv, nil)
			got := toolNames(t, cs)
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("tools = %v, want %v", got, want)
			}
		})
	}

	// The list is private, and without a filter it is untouched.
	cs := connect(t, agentCtx, srv, nil)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.CacheScope != "private" {
		t.Errorf("cacheScope = %q, want private", res.CacheScope)
	}
	plain, _ := newServer(atmcp.ServerMiddleware(c))
	if got := toolNames(t, connect(t, agentCtx, plain, nil)); len(got) != len(testTools) {
		t.Errorf("unfiltered tools = %v", got)
	}
}

func TestPolicyListFilterRules(t *testing.T) {
	p := &agenttrust.Policy{
		Default: agenttrust.Deny,
		Rules: []agenttrust.Rule{
			{ID: "all-reads", Effect: agenttrust.Allow, Tools: []string{"*.read", "docs.*"}},
			{ID: "session-deny", Effect: agenttrust.Deny, Tools: []string{"docs.write"}, When: []string{"session = s-bad"}},
			{ID: "secret-docs", Effect: agenttrust.Deny, Tools: []string{"docs.*"}, Resources: []string{"secret/*"}},
			{ID: "no-admin", Effect: agenttrust.Deny, Agents: []string{"bot-*"}, Tools: []string{"docs.admin"}},
		},
	}
	filter, err := atmcp.PolicyListFilter(p)
	if err != nil {
		t.Fatal(err)
	}
	bot := agenttrust.Identity{AgentID: "bot-1"}
	for tool, want := range map[string]bool{
		"mail.read":  true,
		"docs.write": true,  // denied only in one session: a condition
		"docs.get":   true,  // denied only for some resources
		"docs.admin": false, // denied outright for bot-*
		"mail.send":  false, // no rule: the default denies
	} {
		if got := filter(context.Background(), bot, &sdk.Tool{Name: tool}); got != want {
			t.Errorf("%s shown = %v, want %v", tool, got, want)
		}
	}
	if !filter(context.Background(), agenttrust.Identity{AgentID: "human"}, &sdk.Tool{Name: "docs.admin"}) {
		t.Error("docs.admin hidden from an agent the deny rule does not name")
	}

	p.Default = agenttrust.NeedsApproval
	filter, _ = atmcp.PolicyListFilter(p)
	if !filter(context.Background(), bot, &sdk.Tool{Name: "mail.send"}) {
		t.Error("default needs_approval: mail.send hidden")
	}
	if _, err := atmcp.PolicyListFilter(nil); err == nil {
		t.Error("nil policy accepted")
	}
}

// TestServerMiddlewareTokenInfo: token info from another verifier names
// the agent; WithTokenIdentity maps it.
func TestServerMiddlewareTokenInfo(t *testing.T) {
	c := newClient(t)
	var seen agenttrust.Request
	spy := agenttrust.CheckerFunc(func(ctx context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
		seen = req
		return c.Check(ctx, req)
	})
	info := &auth.TokenInfo{UserID: "user-7", Extra: map[string]any{"agent": "billing-bot"}, Scopes: []string{"x"}}
	tagger := func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			if r, ok := req.(*sdk.CallToolRequest); ok {
				r.Extra = &sdk.RequestExtra{TokenInfo: info}
			}
			return next(ctx, method, req)
		}
	}
	mw := atmcp.ServerMiddleware(spy, atmcp.WithTokenIdentity(func(ti *auth.TokenInfo) agenttrust.Identity {
		agent, _ := ti.Extra["agent"].(string)
		return agenttrust.Identity{AgentID: agent, OnBehalfOf: ti.UserID}
	}))
	// The first middleware given runs first: tagger fills Extra, then the guard.
	srv, ran := newServer(tagger, mw)
	// The context names another agent: token info wins.
	cs := connect(t, agenttrust.WithAgent(context.Background(), "intern-bot", ""), srv, nil)

	res := call(t, cs, "calendar.read", nil)
	if res.IsError || ran.get("calendar.read") != 1 {
		t.Fatalf("IsError=%v text=%q", res.IsError, text(res))
	}
	if seen.AgentID != "billing-bot" || seen.OnBehalfOf != "user-7" || seen.Credential != "" {
		t.Errorf("request = %+v", seen)
	}
	if ran.id.AgentID != "billing-bot" || ran.id.OnBehalfOf != "user-7" {
		t.Errorf("handler identity = %+v", ran.id)
	}
}

// TestServerMiddlewareOurTokenInfoNeedsToken: info that says it came from
// TokenVerifier but arrives without a bearer token is refused rather than
// checked without the token's caveats.
func TestServerMiddlewareOurTokenInfoNeedsToken(t *testing.T) {
	c := newClient(t)
	info := &auth.TokenInfo{UserID: "billing-bot", Extra: map[string]any{atmcp.ExtraCredentialID: "tok_x"}}
	tagger := func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			if r, ok := req.(*sdk.CallToolRequest); ok {
				r.Extra = &sdk.RequestExtra{TokenInfo: info}
			}
			return next(ctx, method, req)
		}
	}
	srv, ran := newServer(tagger, atmcp.ServerMiddleware(c))
	cs := connect(t, agentCtx, srv, nil)
	if res := call(t, cs, "calendar.read", nil); !res.IsError || ran.total() != 0 {
		t.Fatalf("IsError=%v text=%q", res.IsError, text(res))
	}
}

// TestServerMiddlewareMethods: requests other than tool calls are checked
// as the package doc maps them: a resource read as "mcp.resources/read"
// on its URI, a prompt as "mcp.prompts/get" on its name with its
// arguments as attributes; UnsafeUncheckedMethods lets a method through.
func TestServerMiddlewareMethods(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: data
    effect: allow
    agents: [billing-bot]
    tools: ["mcp.resources/read"]
    resources: ["file:///data/*"]
  - id: no-secrets
    effect: deny
    tools: ["mcp.*"]
    resources: ["file:///data/secret.txt"]
  - id: weather-summaries
    effect: allow
    agents: [billing-bot]
    tools: ["mcp.prompts/get"]
    resources: [summarize]
    when: ["attr.topic = weather"]
  - id: hr-files
    effect: needs_approval
    agents: [billing-bot]
    tools: ["mcp.resources/read"]
    resources: ["file:///hr/*"]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, agenttrust.WithPolicy(p))
	srv, ran := newMethodServer(atmcp.ServerMiddleware(c, atmcp.UnsafeUncheckedMethods("completion/complete")))
	cs := connect(t, agentCtx, srv, nil)
	ctx := context.Background()

	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/report.txt"}); err != nil {
		t.Errorf("allowed read: %v", err)
	}
	if ran.id.AgentID != "billing-bot" {
		t.Errorf("handler context identity = %+v", ran.id)
	}
	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///data/secret.txt"}); err == nil {
		t.Error("denied read succeeded")
	}
	_, err = cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "file:///hr/salaries.csv"})
	var we *jsonrpc.Error
	var data map[string]any
	if !errors.As(err, &we) || we.Code != atmcp.CodeDenied || json.Unmarshal(we.Data, &data) != nil ||
		data[atmcp.MetaEffect] != agenttrust.NeedsApproval.String() || data[atmcp.MetaApprovalID] == nil || data[atmcp.MetaApprovalID] == "" {
		t.Errorf("read needing approval: err = %v", err)
	}
	if _, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "summarize", Arguments: map[string]string{"topic": "weather"}}); err != nil {
		t.Errorf("allowed prompt: %v", err)
	}
	if _, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "summarize", Arguments: map[string]string{"topic": "layoffs"}}); err == nil {
		t.Error("prompt with other arguments succeeded")
	}
	if _, err := cs.Complete(ctx, &sdk.CompleteParams{Ref: &sdk.CompleteReference{Type: "ref/prompt", Name: "summarize"}, Argument: sdk.CompleteParamsArgument{Name: "topic", Value: "w"}}); err != nil {
		t.Errorf("unchecked completion: %v", err)
	}
	for _, list := range []func() error{
		func() error { _, err := cs.ListResources(ctx, nil); return err },
		func() error { _, err := cs.ListResourceTemplates(ctx, nil); return err },
		func() error { _, err := cs.ListPrompts(ctx, nil); return err },
		func() error { return cs.Ping(ctx, nil) },
	} {
		if err := list(); err != nil {
			t.Errorf("list: %v", err)
		}
	}
	if n := ran.get("resources/read") + ran.get("prompts/get") + ran.get("completion/complete"); n != 3 {
		t.Errorf("handlers ran %d times, want 3", n)
	}
}
