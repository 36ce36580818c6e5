package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

// answer is a checker that gives one answer and records what it was asked.
type answer struct {
	d    agenttrust.Decision
	err  error
	reqs []agenttrust.Request
}

func (a *answer) Check(_ context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
	a.reqs = append(a.reqs, req)
	return a.d, a.err
}

// TestCheckToolCallAnswers: how each answer of a checker comes back, the
// same for every adapter.
func TestCheckToolCallAnswers(t *testing.T) {
	approval := agenttrust.Decision{Effect: agenttrust.NeedsApproval, Reason: "big", ApprovalID: "apr-1"}
	tests := []struct {
		name       string
		d          agenttrust.Decision
		err        error
		resumed    bool
		want       agenttrust.Effect
		wantIs     []error // nil: no error
		wantReason string
	}{
		{name: "allow", d: agenttrust.Decision{Effect: agenttrust.Allow, Reason: "ok"}, want: agenttrust.Allow, wantReason: "ok"},
		{name: "deny", d: agenttrust.Decision{Reason: "no rule allows this action"}, want: agenttrust.Deny,
			wantIs: []error{middleware.ErrDenied}, wantReason: "no rule allows this action"},
		{name: "deny without a reason", want: agenttrust.Deny, wantIs: []error{middleware.ErrDenied}, wantReason: "no decision"},
		{name: "unknown effect", d: agenttrust.Decision{Effect: 9, Reason: "odd"}, want: agenttrust.Deny,
			wantIs: []error{middleware.ErrDenied}, wantReason: "odd"},
		{name: "needs approval", d: approval, want: agenttrust.NeedsApproval,
			wantIs: []error{middleware.ErrApprovalRequired}, wantReason: "big"},
		{name: "needs approval again when resumed", d: approval, resumed: true, want: agenttrust.Deny,
			wantIs: []error{middleware.ErrDenied}, wantReason: "approval apr-1 not granted"},
		{name: "allow when resumed", d: agenttrust.Decision{Effect: agenttrust.Allow}, resumed: true, want: agenttrust.Allow},
		{name: "error", d: agenttrust.Decision{Reason: "store unavailable"}, err: agenttrust.ErrStoreUnavailable, want: agenttrust.Deny,
			wantIs: []error{middleware.ErrDenied, agenttrust.ErrStoreUnavailable}, wantReason: "store unavailable"},
		{name: "error with allow", d: agenttrust.Decision{Effect: agenttrust.Allow}, err: errors.New("boom"), want: agenttrust.Deny,
			wantIs: []error{middleware.ErrDenied}, wantReason: "no decision"},
		{name: "error with needs approval", d: approval, err: agenttrust.ErrAuditUnavailable, want: agenttrust.Deny,
			wantIs: []error{middleware.ErrDenied, agenttrust.ErrAuditUnavailable}, wantReason: "big"},
	}
	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "s1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &answer{d: tt.d, err: tt.err}
			d, err := middleware.CheckToolCall(ctx, c, "t", []byte(`{"amount":1}`), middleware.Resumed(tt.resumed))
			if d.Effect != tt.want || d.Reason != tt.wantReason {
				t.Errorf("decision %v %q, want %v %q", d.Effect, d.Reason, tt.want, tt.wantReason)
			}
			if (err == nil) != (tt.wantIs == nil) || (err == nil) != (d.Effect == agenttrust.Allow) {
				t.Fatalf("err = %v for effect %v", err, d.Effect)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("err = %v, does not match %v", err, target)
				}
			}
			var ae *middleware.ApprovalRequiredError
			if errors.As(err, &ae) != (d.Effect == agenttrust.NeedsApproval) || (ae != nil && ae.ApprovalID != "apr-1") {
				t.Errorf("err = %#v for effect %v", err, d.Effect)
			}
			if d.Effect != agenttrust.NeedsApproval && d.ApprovalID != "" {
				t.Errorf("a %v keeps approval id %q", d.Effect, d.ApprovalID)
			}
		})
	}
}

// TestCheckToolCallRequest: the request the checker sees, from the
// context, the arguments and the options; and arguments refused before
// it is asked.
func TestCheckToolCallRequest(t *testing.T) {
	ctx := agenttrust.WithCredential(agenttrust.WithOnBehalfOf(agenttrust.WithAgent(context.Background(), "billing-bot", "s1"), "alice"), "att_x")
	caller := agenttrust.Request{AgentID: "billing-bot", SessionID: "s1", OnBehalfOf: "alice", Credential: "att_x", Tool: "t"}
	with := func(f func(*agenttrust.Request)) agenttrust.Request {
		r := caller
		f(&r)
		return r
	}
	attrs := func(m map[string]any) agenttrust.Request {
		return with(func(r *agenttrust.Request) { r.Attributes = m })
	}
	input := middleware.InputKey("input")
	tests := []struct {
		name string
		args any // string: CheckToolCall; anything else: CheckToolCallValue
		opts []middleware.ToolCallOption
		want agenttrust.Request // zero: refused as invalid before the check
	}{
		{name: "object", args: `{"amount": 40, "note": "x"}`, want: attrs(map[string]any{"amount": json.Number("40"), "note": "x"})},
		{name: "empty", args: ``, want: caller},
		{name: "null", args: ` null `, want: caller},
		{name: "member twice", args: `{"amount":1,"amount":1000000}`},
		{name: "member twice by case", args: `{"amount":1,"AMOUNT":1000000}`},
		{name: "trailing value", args: `{"amount":1} {"amount":1000000}`},
		{name: "not an object", args: `7`},
		{name: "value as input", args: `7`, opts: []middleware.ToolCallOption{input}, want: attrs(map[string]any{"input": json.Number("7")})},
		{name: "string as input", args: `"hi"`, opts: []middleware.ToolCallOption{input}, want: attrs(map[string]any{"input": "hi"})},
		{name: "list as input", args: `[1, {"a": 2}]`, opts: []middleware.ToolCallOption{input}, want: attrs(map[string]any{"input": []any{json.Number("1"), map[string]any{"a": json.Number("2")}}})},
		{name: "input and resource", args: `"cust-1"`, opts: []middleware.ToolCallOption{input, middleware.ResourceKey("input")},
			want: with(func(r *agenttrust.Request) { r.Resource, r.Attributes = "cust-1", map[string]any{"input": "cust-1"} })},
		{name: "input list as resource", args: `["cust-1"]`, opts: []middleware.ToolCallOption{input, middleware.ResourceKey("input")}},
		{name: "trailing input", args: `7 8`, opts: []middleware.ToolCallOption{input}},
		{name: "object with input key", args: `{"a":1,"A":2}`, opts: []middleware.ToolCallOption{input}},
		{name: "resource key", args: `{"customer": "cust-1"}`, opts: []middleware.ToolCallOption{middleware.ResourceKey("customer")},
			want: with(func(r *agenttrust.Request) { r.Resource, r.Attributes = "cust-1", map[string]any{"customer": "cust-1"} })},
		{name: "edits in order, after the arguments", args: `{"customer": "cust-1"}`, opts: []middleware.ToolCallOption{
			middleware.EditRequest(func(r *agenttrust.Request) { r.Resource = r.Attributes["customer"].(string) }),
			middleware.EditRequest(func(r *agenttrust.Request) { r.Attributes, r.AgentID = nil, r.AgentID+"/2" }),
		}, want: with(func(r *agenttrust.Request) { r.Resource, r.AgentID = "cust-1", "billing-bot/2" })},
		{name: "value: map", args: map[string]any{"amount": 40.5, "tags": []string{"a"}},
			want: attrs(map[string]any{"amount": json.Number("40.5"), "tags": []any{"a"}})},
		{name: "value: struct", args: struct {
			Amount int `json:"amount"`
		}{7}, want: attrs(map[string]any{"amount": json.Number("7")})},
		{name: "value: nil", args: nil, want: caller},
		{name: "value: one name in two cases", args: map[string]any{"amount": 1, "Amount": 1000000}},
		{name: "value: kelvin sign", args: map[string]any{"k": 1, "\u212a": 2}},
		{name: "value: NaN", args: map[string]any{"amount": math.NaN()}},
		{name: "value: raw JSON with a member twice", args: json.RawMessage(`{"amount":1,"amount":1000000}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &answer{d: agenttrust.Decision{Effect: agenttrust.Allow}}
			var d agenttrust.Decision
			var err error
			if s, ok := tt.args.(string); ok {
				d, err = middleware.CheckToolCall(ctx, c, "t", []byte(s), tt.opts...)
			} else {
				d, err = middleware.CheckToolCallValue(ctx, c, "t", tt.args, tt.opts...)
			}
			if tt.want.Tool == "" {
				if len(c.reqs) != 0 || d.Effect != agenttrust.Deny || d.Reason != "invalid tool arguments" ||
					!errors.Is(err, middleware.ErrDenied) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
					t.Errorf("asked %d times; decision %v %q, err %v; want refused as invalid", len(c.reqs), d.Effect, d.Reason, err)
				}
				return
			}
			if err != nil || len(c.reqs) != 1 {
				t.Fatalf("asked %d times, err %v", len(c.reqs), err)
			}
			if !reflect.DeepEqual(c.reqs[0], tt.want) {
				t.Errorf("request\n%#v\nwant\n%#v", c.reqs[0], tt.want)
			}
		})
	}
}

// An adapter for an agent framework that hands its tools their
// arguments decoded: check each call, run the tool only when allowed,
// and turn the answer into what the framework expects.
func ExampleCheckToolCallValue() {
	policy, _ := agenttrust.ParsePolicy([]byte(`{"rules": [
		{"id": "small", "effect": "allow", "tools": ["refund"], "when": ["attr.amount <= 50"]},
		{"id": "large", "effect": "needs_approval", "tools": ["refund"], "when": ["attr.amount > 50"],
		 "reason": "refunds over 50 need a supervisor"}]}`), "json")
	c, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	defer c.Close()
	ctx := agenttrust.WithAgent(context.Background(), "support-bot", "chat-7")

	for _, args := range []map[string]any{
		{"amount": 20},
		{"amount": 80},
		{"amount": 1, "AMOUNT": 1000000}, // which one would the tool see?
	} {
		d, err := middleware.CheckToolCallValue(ctx, c, "refund", args)
		switch d.Effect {
		case agenttrust.Allow:
			fmt.Println("run the tool")
		case agenttrust.NeedsApproval:
			fmt.Println("interrupt, waiting for approval:", d.Reason)
		default:
			fmt.Println("tell the model:", err, "/", errors.Is(err, agenttrust.ErrInvalidRequest))
		}
	}
	// Output:
	// run the tool
	// interrupt, waiting for approval: refunds over 50 need a supervisor
	// tell the model: agenttrust: denied: invalid tool arguments / true
}

// FuzzCheckToolCallArguments: whatever the model writes, the checker
// sees every member encoding/json would hand the tool, under the name it
// has, or is never asked.
func FuzzCheckToolCallArguments(f *testing.F) {
	for _, s := range []string{``, `null`, `7`, `"x"`, `[1,{"a":2}]`, `7 8`, `{"amount":1}`, `{"amount":1,"amount":2}`,
		`{"amount":1,"AMOUNT":2}`, `{"k":1,"\u212a":2}`, `{"amount":1} {"amount":2}`, `{"o":{"a":1,"a":2}}`} {
		f.Add([]byte(s))
	}
	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "s1")
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &answer{d: agenttrust.Decision{Effect: agenttrust.Allow}}
		_, err := middleware.CheckToolCall(ctx, c, "t", data, middleware.InputKey("input"), middleware.ResourceKey("input"))
		if err != nil {
			if len(c.reqs) != 0 || !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Fatalf("refused with %v after %d checks", err, len(c.reqs))
			}
			return
		}
		attrs := c.reqs[0].Attributes
		if !json.Valid(data) {
			if attrs != nil {
				t.Fatalf("%q is not JSON, yet attributes %v", data, attrs)
			}
			return // empty
		}
		// What the tool sees, numbers kept whole.
		var v any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		switch v := v.(type) {
		case nil:
			if attrs != nil {
				t.Fatalf("null gave attributes %v", attrs)
			}
		case map[string]any:
			if len(v) != len(attrs) {
				t.Fatalf("tool sees %d members, checker %d: %q", len(v), len(attrs), data)
			}
			for k := range v {
				if _, ok := attrs[k]; !ok {
					t.Fatalf("checker lacks member %q of %q", k, data)
				}
			}
		default:
			if _, ok := attrs["input"]; !ok || len(attrs) != 1 {
				t.Fatalf("value %q gave attributes %v", data, attrs)
			}
		}
	})
}
