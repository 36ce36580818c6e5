package eino_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cloudwego/eino/adk"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/components/tool/utils"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware/eino"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-agent]
    tools: [charge, charge_stream]
    when: ["attr.amount <= 50"]
  - id: big-charges
    effect: needs_approval
    agents: [billing-agent]
    tools: [charge]
    when: ["attr.amount > 50"]
    reason: charges over $50 need a human
  - id: no-deletes
    effect: deny
    tools: [delete_customer]
    reason: agents never delete customers
`

// scriptedModel is an Eino ToolCallingChatModel that asks for one tool
// call, then answers "done" once it sees a tool's result.
type scriptedModel struct {
	tool, args string
}

func (m *scriptedModel) Generate(_ context.Context, in []*schema.Message, _ ...model.Option) (*schema.Message, error) {
	if in[len(in)-1].Role == schema.Tool {
		return schema.AssistantMessage("done", nil), nil
	}
	return schema.AssistantMessage("", []schema.ToolCall{{
		ID: "call-1", Type: "function", Function: schema.FunctionCall{Name: m.tool, Arguments: m.args},
	}}), nil
}

func (m *scriptedModel) Stream(ctx context.Context, in []*schema.Message, opts ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	msg, err := m.Generate(ctx, in, opts...)
	return schema.StreamReaderFromArray([]*schema.Message{msg}), err
}

func (m *scriptedModel) WithTools([]*schema.ToolInfo) (model.ToolCallingChatModel, error) {
	return m, nil
}

type checkpoints struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *checkpoints) Get(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, ok, nil
}

func (s *checkpoints) Set(_ context.Context, key string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = v
	return nil
}

// noChecker asks newFixture for a middleware over a nil checker.
type noChecker struct{ agenttrust.Checker }

type chargeArgs struct {
	Amount float64 `json:"amount"`
}

type fixture struct {
	client *agenttrust.Client
	runner *adk.Runner
	runs   atomic.Int32 // tool executions
}

// newFixture builds an agent whose model calls toolName with args, its
// tools guarded by checker: by a client with the test policy when checker
// is nil, by nothing when it is noChecker.
func newFixture(t *testing.T, checker agenttrust.Checker, toolName, args string, opts ...eino.Option) *fixture {
	t.Helper()
	f := &fixture{}
	mw := eino.Middleware(checker, opts...)
	switch checker.(type) {
	case noChecker:
		mw = eino.Middleware(nil)
	case nil:
		p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
		if err != nil {
			t.Fatal(err)
		}
		f.client, err = agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.client.Close() })
		mw = eino.Middleware(f.client)
	}
	run := func(context.Context, chargeArgs) (string, error) {
		f.runs.Add(1)
		return "charged", nil
	}
	charge, err := utils.InferTool("charge", "charge a card", run)
	if err != nil {
		t.Fatal(err)
	}
	del, err := utils.InferTool("delete_customer", "delete", run)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := utils.InferStreamTool("charge_stream", "charge, streaming",
		func(ctx context.Context, in chargeArgs) (*schema.StreamReader[string], error) {
			out, err := run(ctx, in)
			return schema.StreamReaderFromArray([]string{out}), err
		})
	if err != nil {
		t.Fatal(err)
	}
	a, err := adk.NewChatModelAgent(t.Context(), &adk.ChatModelAgentConfig{
		Name:        "billing",
		Description: "billing agent",
		Model:       &scriptedModel{tool: toolName, args: args},
		ToolsConfig: adk.ToolsConfig{ToolsNodeConfig: compose.ToolsNodeConfig{
			Tools:               []tool.BaseTool{charge, del, stream},
			ToolCallMiddlewares: []compose.ToolMiddleware{mw},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.runner = adk.NewRunner(t.Context(), adk.RunnerConfig{Agent: a, CheckPointStore: &checkpoints{m: map[string][]byte{}}})
	return f
}

// outcome is what one run or resume produced.
type outcome struct {
	results   []string // tool results the model saw
	interrupt *adk.InterruptCtx
}

func drain(t *testing.T, it *adk.AsyncIterator[*adk.AgentEvent]) outcome {
	t.Helper()
	var o outcome
	for {
		ev, ok := it.Next()
		if !ok {
			return o
		}
		if ev.Err != nil {
			t.Fatalf("event error: %v", ev.Err)
		}
		if ev.Action != nil && ev.Action.Interrupted != nil {
			for _, ic := range ev.Action.Interrupted.InterruptContexts {
				if ic.IsRootCause {
					o.interrupt = ic
				}
			}
		}
		if ev.Output != nil && ev.Output.MessageOutput != nil && ev.Output.MessageOutput.Role == schema.Tool {
			msg, err := ev.Output.MessageOutput.GetMessage()
			if err != nil {
				t.Fatal(err)
			}
			o.results = append(o.results, msg.Content)
		}
	}
}

func agentCtx(t *testing.T) context.Context {
	return agenttrust.WithAgent(t.Context(), "billing-agent", "session-1")
}

func TestDecisions(t *testing.T) {
	failing := func(d agenttrust.Decision, err error) agenttrust.Checker {
		return agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) { return d, err })
	}
	tests := []struct {
		name       string
		tool, args string
		anonymous  bool // no agenttrust.WithAgent
		checker    agenttrust.Checker
		runs       int32
		result     string
	}{
		{name: "allowed", tool: "charge", args: `{"amount": 40}`, runs: 1, result: "charged"},
		{name: "allowed streaming tool", tool: "charge_stream", args: `{"amount": 40}`, runs: 1, result: "charged"},
		{name: "denied by rule", tool: "delete_customer", args: `{"amount": 1}`,
			result: "agenttrust: denied: agents never delete customers"},
		{name: "denied streaming tool", tool: "charge_stream", args: `{"amount": 80}`,
			result: "agenttrust: denied: no rule allows this action"},
		{name: "no identity", tool: "charge", args: `{"amount": 40}`, anonymous: true, result: "agenttrust: denied: "},
		{name: "arguments not JSON", tool: "charge", args: `{"amount": 4`,
			result: "agenttrust: denied: invalid tool arguments"},
		{name: "check error fails closed", tool: "charge", args: `{"amount": 40}`,
			checker: failing(agenttrust.Decision{Reason: "store unavailable"}, agenttrust.ErrStoreUnavailable),
			result:  "agenttrust: denied: store unavailable"},
		{name: "error with allow fails closed", tool: "charge", args: `{"amount": 40}`,
			checker: failing(agenttrust.Decision{Effect: agenttrust.Allow}, errors.New("boom")),
			result:  "agenttrust: denied: no decision"},
		{name: "nil checker", tool: "charge", args: `{"amount": 40}`, checker: noChecker{},
			result: "agenttrust: denied: tool call check misconfigured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.checker, tt.tool, tt.args)
			ctx := agentCtx(t)
			if tt.anonymous {
				ctx = t.Context()
			}
			o := drain(t, f.runner.Query(ctx, "hello"))
			if got := f.runs.Load(); got != tt.runs {
				t.Errorf("tool ran %d times, want %d", got, tt.runs)
			}
			if len(o.results) != 1 || !strings.HasPrefix(o.results[0], tt.result) {
				t.Errorf("results = %q, want one starting %q", o.results, tt.result)
			}
			if o.interrupt != nil {
				t.Errorf("unexpected interrupt %+v", o.interrupt)
			}
		})
	}
}

func TestNeedsApproval(t *testing.T) {
	tests := []struct {
		name     string
		approve  bool // approve in agenttrust before resuming
		targeted bool // ResumeWithParams naming the tool, or Resume
		runs     int32
		result   string // "" means interrupted again
	}{
		{name: "approved, targeted resume", approve: true, targeted: true, runs: 1, result: "charged"},
		{name: "approved, resume all", approve: true, runs: 1, result: "charged"},
		{name: "pending, targeted resume", targeted: true, result: "agenttrust: denied: approval "},
		{name: "pending, resume all", result: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, "charge", `{"amount": 80}`)
			ctx := agentCtx(t)
			o := drain(t, f.runner.Query(ctx, "hello", adk.WithCheckPointID("cp-1")))
			if f.runs.Load() != 0 || len(o.results) != 0 {
				t.Fatalf("tool ran before approval: %q", o.results)
			}
			if o.interrupt == nil {
				t.Fatal("no interrupt")
			}
			p, ok := o.interrupt.Info.(*eino.Pending)
			if !ok || p.ApprovalID == "" || p.Tool != "charge" || p.Reason != "charges over $50 need a human" {
				t.Fatalf("interrupt info = %#v", o.interrupt.Info)
			}
			if tt.approve {
				if err := f.client.Approve(ctx, p.ApprovalID, "alice", ""); err != nil {
					t.Fatal(err)
				}
			}
			var it *adk.AsyncIterator[*adk.AgentEvent]
			var err error
			if tt.targeted {
				it, err = f.runner.ResumeWithParams(ctx, "cp-1", &adk.ResumeParams{Targets: map[string]any{o.interrupt.ID: nil}})
			} else {
				it, err = f.runner.Resume(ctx, "cp-1")
			}
			if err != nil {
				t.Fatal(err)
			}
			o2 := drain(t, it)
			if got := f.runs.Load(); got != tt.runs {
				t.Errorf("tool ran %d times, want %d", got, tt.runs)
			}
			if tt.result == "" {
				if o2.interrupt == nil || len(o2.results) != 0 {
					t.Errorf("want a new interrupt and no result, got %+v", o2)
				} else if p2, _ := o2.interrupt.Info.(*eino.Pending); p2 == nil || p2.ApprovalID != p.ApprovalID {
					t.Errorf("new interrupt info = %#v, want approval %s", o2.interrupt.Info, p.ApprovalID)
				}
				return
			}
			if len(o2.results) != 1 || !strings.HasPrefix(o2.results[0], tt.result) {
				t.Errorf("results = %q, want one starting %q", o2.results, tt.result)
			}
			if o2.interrupt != nil {
				t.Errorf("unexpected interrupt %+v", o2.interrupt)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	var mu sync.Mutex
	var got []agenttrust.Request
	checker := agenttrust.CheckerFunc(func(_ context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, req)
		return agenttrust.Decision{Reason: "recorded"}, nil
	})
	tests := []struct {
		name  string
		args  string
		opts  []eino.Option
		check func(agenttrust.Request) bool
	}{
		{name: "object", args: `{"amount": 7}`,
			check: func(r agenttrust.Request) bool { return r.Attributes["amount"] == json.Number("7") }},
		{name: "not an object", args: `7`,
			check: func(r agenttrust.Request) bool { return r.Attributes["input"] == json.Number("7") }},
		{name: "empty", args: ``,
			check: func(r agenttrust.Request) bool { return r.Attributes == nil }},
		{name: "options", args: `{"amount": 7, "card": "c-1"}`,
			opts: []eino.Option{
				eino.WithResource(func(_ string, args map[string]any) string { return args["card"].(string) }),
				eino.WithAttributes(func(tool string, _ map[string]any) map[string]any { return map[string]any{"tool": tool} }),
			},
			check: func(r agenttrust.Request) bool { return r.Resource == "c-1" && r.Attributes["tool"] == "charge" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			f := newFixture(t, checker, "charge", tt.args, tt.opts...)
			ctx := agenttrust.WithCredential(agenttrust.WithAgent(t.Context(), "billing-agent", "s-1"), "atk_secret")
			drain(t, f.runner.Query(ctx, "hello"))
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 {
				t.Fatalf("%d checks, want 1", len(got))
			}
			r := got[0]
			if r.AgentID != "billing-agent" || r.SessionID != "s-1" || r.Tool != "charge" || r.Credential != "atk_secret" || !tt.check(r) {
				t.Errorf("request = %+v", r)
			}
		})
	}
}
