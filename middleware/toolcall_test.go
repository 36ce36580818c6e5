package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

var jsonAttributesTests = []struct {
	name    string
	in      string
	want    map[string]any
	wantErr bool
}{
	{"empty", "", nil, false},
	{"whitespace", " \n\t", nil, false},
	{"empty object", "{}", map[string]any{}, false},
	{"scalars", `{"s":"x","n":40,"f":-1.5e3,"t":true,"no":false,"z":null}`,
		map[string]any{"s": "x", "n": json.Number("40"), "f": json.Number("-1.5e3"), "t": true, "no": false, "z": nil}, false},
	{"big integer keeps digits", `{"id":12345678901234567890}`, map[string]any{"id": json.Number("12345678901234567890")}, false},
	{"nested become objects and lists", `{"o":{"b": 1, "a":[1, 2]},"a":[ "x" , {"y":null} ]}`,
		map[string]any{"o": map[string]any{"b": json.Number("1"), "a": []any{json.Number("1"), json.Number("2")}}, "a": []any{"x", map[string]any{"y": nil}}}, false},
	{"escapes", `{"k\u0065y":"a\"b\n"}`, map[string]any{"key": "a\"b\n"}, false},
	{"array", `[1,2]`, nil, true},
	{"string", `"x"`, nil, true},
	{"number", `4`, nil, true},
	{"null", `null`, nil, true},
	{"not json", `amount=4`, nil, true},
	{"truncated", `{"a":1`, nil, true},
	{"trailing comma", `{"a":1,}`, nil, true},
	{"trailing data", `{"a":1} {"a":2}`, nil, true},
	{"trailing garbage", `{"a":1}x`, nil, true},
	{"form feed is not JSON space", "{\"a\":1}\f", nil, true},
	{"no-break space is not JSON space", "\u00a0{}", nil, true},
	{"duplicate", `{"amount":1,"amount":1000}`, nil, true},
	{"duplicate by escape", `{"amount":1,"amoun\u0074":1000}`, nil, true},
	{"duplicate by case", `{"amount":1,"AMOUNT":1000}`, nil, true},
	{"duplicate by kelvin sign", `{"k":1,"\u212a":1000}`, nil, true},
	{"duplicate nested", `{"o":{"a":1,"a":2}}`, nil, true},
	{"duplicate nested by case", `{"o":[{"amount":1,"Amount":2}]}`, nil, true},
	{"too deep", `{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "}", nil, true},
	{"deep enough", `{"a":` + strings.Repeat("[", 60) + strings.Repeat("]", 60) + "}", map[string]any{"a": nested(60)}, false},
	{"bad nested", `{"o":{"a":}}`, nil, true},
}

// nested returns n lists, each holding the next, the innermost empty.
func nested(n int) any {
	v := []any{}
	for ; n > 1; n-- {
		v = []any{v}
	}
	return v
}

func TestJSONAttributes(t *testing.T) {
	for _, tt := range jsonAttributesTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := middleware.JSONAttributes([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, agenttrust.ErrInvalidRequest) {
					t.Errorf("err = %v, want ErrInvalidRequest", err)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func FuzzJSONAttributes(f *testing.F) {
	for _, tt := range jsonAttributesTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		attrs, err := middleware.JSONAttributes(data)
		if err != nil {
			return
		}
		if attrs != nil && !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		for k, v := range attrs {
			checkArgumentValue(t, k, v)
		}
	})
}

// checkArgumentValue fails unless v is a value JSONAttributes may make:
// nil, a bool, a string, a json.Number, or a map[string]any or []any of
// them.
func checkArgumentValue(t *testing.T, k string, v any) {
	t.Helper()
	switch v := v.(type) {
	case nil, bool, string:
	case json.Number:
		if _, err := v.Float64(); err != nil && !strings.Contains(err.Error(), "range") {
			t.Fatalf("%q: bad number %q", k, v)
		}
	case map[string]any:
		for ek, e := range v {
			checkArgumentValue(t, k+"."+ek, e)
		}
	case []any:
		for _, e := range v {
			checkArgumentValue(t, k+"[]", e)
		}
	default:
		t.Fatalf("%q: unexpected type %T", k, v)
	}
}

// toolCallClient builds a client with the guard tests' policy.
func toolCallClient(t *testing.T) *agenttrust.Client {
	t.Helper()
	return newClient(t)
}

func TestCheckToolCall(t *testing.T) {
	c := toolCallClient(t)
	agentCtx := agenttrust.WithAgent(context.Background(), "billing-bot", "s1")
	tests := []struct {
		name       string
		ctx        context.Context
		tool       string
		args       string
		opts       []middleware.ToolCallOption
		want       agenttrust.Effect
		wantIs     []error
		wantReason string
	}{
		{name: "allowed, number as json.Number", ctx: agentCtx, tool: "payments.charge", args: `{"customer":"cust-1","amount":50}`,
			opts: []middleware.ToolCallOption{middleware.ResourceKey("customer")}, want: agenttrust.Allow},
		{name: "allowed, fractional amount", ctx: agentCtx, tool: "payments.charge", args: `{"customer":"cust-1","amount":49.99}`,
			opts: []middleware.ToolCallOption{middleware.ResourceKey("customer")}, want: agenttrust.Allow},
		{name: "numeric resource", ctx: agentCtx, tool: "payments.charge", args: `{"customer":42,"amount":5}`,
			opts: []middleware.ToolCallOption{middleware.ResourceKey("customer")}, want: agenttrust.Deny, wantIs: []error{middleware.ErrDenied}},
		{name: "needs approval", ctx: agentCtx, tool: "payments.charge", args: `{"customer":"cust-1","amount":50.01}`,
			opts: []middleware.ToolCallOption{middleware.ResourceKey("customer")}, want: agenttrust.NeedsApproval, wantIs: []error{middleware.ErrApprovalRequired}},
		{name: "denied: resource outside the rule", ctx: agentCtx, tool: "payments.charge", args: `{"customer":"vendor-1","amount":5}`,
			opts: []middleware.ToolCallOption{middleware.ResourceKey("customer")}, want: agenttrust.Deny, wantIs: []error{middleware.ErrDenied}, wantReason: "no rule allows"},
		{name: "denied: no resource key given", ctx: agentCtx, tool: "payments.charge", args: `{"customer":"cust-1","amount":5}`,
			want: agenttrust.Deny, wantIs: []error{middleware.ErrDenied}},
		{name: "denied: amount as a string is not a number", ctx: agentCtx, tool: "payments.charge", args: `{"customer":"cust-1","amount":"5"}`,
			opts: []middleware.ToolCallOption{middleware.ResourceKey("customer")}, want: agenttrust.Deny, wantIs: []error{middleware.ErrDenied}},
		{name: "denied: unknown tool", ctx: agentCtx, tool: "shell.exec", args: `{"cmd":"rm -rf /"}`,
			want: agenttrust.Deny, wantIs: []error{middleware.ErrDenied}},
		{name: "invalid arguments", ctx: agentCtx, tool: "payments.charge", args: `{"amount":5,"amount":500}`,
			want: agenttrust.Deny, wantIs: []error{middleware.ErrDenied, agenttrust.ErrInvalidRequest}},
		{name: "resource key not a string", ctx: agentCtx, tool: "payments.charge", args: `{"customer":{"id":1}}`,
			opts: []middleware.ToolCallOption{middleware.ResourceKey("customer")}, want: agenttrust.Deny, wantIs: []error{middleware.ErrDenied, agenttrust.ErrInvalidRequest}},
		{name: "no identity", ctx: context.Background(), tool: "payments.charge", args: `{}`,
			want: agenttrust.Deny, wantIs: []error{middleware.ErrDenied, agenttrust.ErrInvalidRequest}},
		{name: "nil arguments", ctx: agentCtx, tool: "payments.charge", args: ``,
			want: agenttrust.Deny, wantIs: []error{middleware.ErrDenied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := middleware.CheckToolCall(tt.ctx, c, tt.tool, []byte(tt.args), tt.opts...)
			if d.Effect != tt.want {
				t.Fatalf("effect %v (%s), want %v; err %v", d.Effect, d.Reason, tt.want, err)
			}
			if (err == nil) != (len(tt.wantIs) == 0) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("err = %v, does not match %v", err, target)
				}
			}
			if !strings.Contains(d.Reason, tt.wantReason) {
				t.Errorf("reason %q, want it to contain %q", d.Reason, tt.wantReason)
			}
			if tt.want == agenttrust.NeedsApproval {
				var ae *middleware.ApprovalRequiredError
				if !errors.As(err, &ae) || ae.ApprovalID == "" || ae.ApprovalID != d.ApprovalID {
					t.Errorf("approval error %v, decision %+v", err, d)
				}
			}
		})
	}
}

func TestCheckToolCallCredentialAndFailures(t *testing.T) {
	c := toolCallClient(t)
	ctx := context.Background()
	key, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := agenttrust.Attenuate(tok, "attr.amount <= 10")
	if err != nil {
		t.Fatal(err)
	}
	cctx := agenttrust.WithCredential(ctx, narrow)
	if d, err := middleware.CheckToolCall(cctx, c, "payments.charge", []byte(`{"c":"cust-1","amount":10}`), middleware.ResourceKey("c")); err != nil || d.AgentID != "billing-bot" || len(d.HopIDs) != 1 {
		t.Fatalf("token call: %+v %v", d, err)
	}
	_, err = middleware.CheckToolCall(cctx, c, "payments.charge", []byte(`{"c":"cust-1","amount":11}`), middleware.ResourceKey("c"))
	if !errors.Is(err, middleware.ErrDenied) || !errors.Is(err, agenttrust.ErrCaveat) {
		t.Fatalf("caveat: %v", err)
	}
	if msg := middleware.ToolResultMessage(err); !strings.Contains(msg, "credential does not allow") {
		t.Errorf("message %q", msg)
	}

	if _, err := middleware.CheckToolCall(ctx, nil, "t", nil); !errors.Is(err, middleware.ErrDenied) || !errors.Is(err, agenttrust.ErrInvalidConfig) {
		t.Fatalf("nil checker: %v", err)
	}
	// A buggy checker that allows with an error is a deny.
	failing := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
		return agenttrust.Decision{Effect: agenttrust.Allow, Reason: "store unavailable"}, agenttrust.ErrStoreUnavailable
	})
	d, err := middleware.CheckToolCall(ctx, failing, "t", nil)
	if d.Allowed() || !errors.Is(err, agenttrust.ErrStoreUnavailable) || !errors.Is(err, middleware.ErrDenied) {
		t.Fatalf("failing checker: %+v %v", d, err)
	}
}

func TestToolResultMessage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"approval", &middleware.ApprovalRequiredError{ApprovalID: "apr_1", Decision: agenttrust.Decision{Reason: "big"}},
			"Not done: this action needs a person's approval (approval id apr_1): big. Tell the user it is waiting for approval; do not retry it until then."},
		{"denied", &middleware.DeniedError{Decision: agenttrust.Decision{Reason: "no rule allows this action"}},
			"Not done: permission denied (no rule allows this action). Do not retry it; choose another way or ask the user."},
		{"denied without reason", &middleware.DeniedError{}, "Not done: permission denied (denied). Do not retry it; choose another way or ask the user."},
		{"store", &middleware.DeniedError{Err: fmt.Errorf("%w: secret-host:5432 refused", agenttrust.ErrStoreUnavailable)},
			"Not done: authorization is temporarily unavailable. Try again later."},
		{"invalid", &middleware.DeniedError{Err: fmt.Errorf("%w: arguments: not a JSON object", agenttrust.ErrInvalidRequest)},
			"Not done: the tool call is invalid (agenttrust: invalid request: arguments: not a JSON object). Fix the arguments and call again."},
		{"credential", &middleware.DeniedError{Decision: agenttrust.Decision{Reason: "credential revoked"}, Err: agenttrust.ErrRevoked},
			"Not done: the agent's credential does not allow this action (credential revoked). Do not retry it."},
		{"other", errors.New("db password is hunter2"), "Not done: the action could not be authorized. Do not retry it."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := middleware.ToolResultMessage(tt.err); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// A hand-written tool loop: check each call the model asks for, run it
// only when allowed, and hand the model a result it can read either way.
func ExampleCheckToolCall() {
	policy, _ := agenttrust.ParsePolicy([]byte(`
rules:
  - id: small-refunds
    effect: allow
    agents: [support-bot]
    tools: [refund]
    resources: ["order-*"]
    when: ["attr.amount <= 50"]
  - id: large-refunds
    effect: needs_approval
    agents: [support-bot]
    tools: [refund]
    when: ["attr.amount > 50"]
    reason: refunds over 50 need a supervisor
`), "yaml")
	c, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	defer c.Close()
	ctx := agenttrust.WithAgent(context.Background(), "support-bot", "chat-7")

	// The tool calls, as a model returns them (name and JSON arguments).
	calls := []struct{ name, args string }{
		{"refund", `{"order_id": "order-1001", "amount": 20}`},
		{"refund", `{"order_id": "order-1002", "amount": 80}`},
		{"delete_account", `{"user": "alice"}`},
	}
	for _, call := range calls {
		_, err := middleware.CheckToolCall(ctx, c, call.name, []byte(call.args), middleware.ResourceKey("order_id"))
		result := "refunded" // run the tool here
		if err != nil {
			result = middleware.ToolResultMessage(err)
		}
		fmt.Printf("%s: %s\n", call.name, strings.Split(result, " (approval id")[0])
	}
	// Output:
	// refund: refunded
	// refund: Not done: this action needs a person's approval
	// delete_account: Not done: permission denied (no rule allows this action). Do not retry it; choose another way or ask the user.
}
