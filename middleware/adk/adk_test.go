package adk_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/adk/v2/agent"
	"google.golang.org/adk/v2/agent/llmagent"
	"google.golang.org/adk/v2/model"
	"google.golang.org/adk/v2/plugin"
	"google.golang.org/adk/v2/runner"
	"google.golang.org/adk/v2/session"
	"google.golang.org/adk/v2/tool"
	"google.golang.org/adk/v2/tool/functiontool"
	"google.golang.org/adk/v2/tool/toolconfirmation"
	"google.golang.org/genai"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware/adk"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-agent]
    tools: [charge]
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

// scriptedModel is an ADK model.LLM that asks for one tool call, then
// answers "done" once it sees a tool's response.
type scriptedModel struct {
	call *genai.FunctionCall
}

func (m *scriptedModel) Name() string { return "scripted" }

func (m *scriptedModel) GenerateContent(_ context.Context, req *model.LLMRequest, _ bool) iter.Seq2[*model.LLMResponse, error] {
	return func(yield func(*model.LLMResponse, error) bool) {
		last := req.Contents[len(req.Contents)-1]
		for _, p := range last.Parts {
			if p.FunctionResponse != nil {
				yield(&model.LLMResponse{Content: genai.NewContentFromText("done", genai.RoleModel)}, nil)
				return
			}
		}
		yield(&model.LLMResponse{Content: &genai.Content{Role: genai.RoleModel, Parts: []*genai.Part{{FunctionCall: m.call}}}}, nil)
	}
}

type chargeArgs struct {
	Amount float64 `json:"amount"`
}

type fixture struct {
	client *agenttrust.Client
	runner *runner.Runner
	runs   atomic.Int32 // tool executions
}

func newFixture(t *testing.T, checker agenttrust.Checker, call *genai.FunctionCall, opts ...adk.Option) *fixture {
	t.Helper()
	f := &fixture{}
	if checker == nil {
		p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
		if err != nil {
			t.Fatal(err)
		}
		f.client, err = agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.client.Close() })
		checker = f.client
	}
	run := func(agent.Context, chargeArgs) (map[string]any, error) {
		f.runs.Add(1)
		return map[string]any{"status": "ok"}, nil
	}
	charge, err := functiontool.New(functiontool.Config{Name: "charge", Description: "charge a card"}, run)
	if err != nil {
		t.Fatal(err)
	}
	del, err := functiontool.New(functiontool.Config{Name: "delete_customer", Description: "delete"}, run)
	if err != nil {
		t.Fatal(err)
	}
	a, err := llmagent.New(llmagent.Config{
		Name:  "billing-agent",
		Model: &scriptedModel{call: call},
		Tools: []tool.Tool{charge, del},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := adk.Plugin(checker, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.runner, err = runner.New(runner.Config{
		AppName:           "test",
		Agent:             a,
		SessionService:    session.InMemoryService(),
		PluginConfig:      runner.PluginConfig{Plugins: []*plugin.Plugin{p}},
		AutoCreateSession: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// turn is what one runner.Run produced.
type turn struct {
	responses []map[string]any // function responses of the tool
	confirm   *genai.FunctionCall
}

func (f *fixture) run(t *testing.T, ctx context.Context, msg *genai.Content) turn {
	t.Helper()
	var tr turn
	for ev, err := range f.runner.Run(ctx, "user-1", "session-1", msg, agent.RunConfig{}) {
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if ev.Content == nil {
			continue
		}
		for _, p := range ev.Content.Parts {
			if p.FunctionResponse != nil && p.FunctionResponse.Name != toolconfirmation.FunctionCallName {
				tr.responses = append(tr.responses, p.FunctionResponse.Response)
			}
			if p.FunctionCall != nil && p.FunctionCall.Name == toolconfirmation.FunctionCallName {
				tr.confirm = p.FunctionCall
			}
		}
	}
	return tr
}

func errorOf(t *testing.T, tr turn) string {
	t.Helper()
	if len(tr.responses) != 1 {
		t.Fatalf("got %d tool responses, want 1: %v", len(tr.responses), tr.responses)
	}
	s, _ := tr.responses[0]["error"].(string)
	return s
}

func confirmation(confirmed bool, call *genai.FunctionCall) *genai.Content {
	return &genai.Content{Role: genai.RoleUser, Parts: []*genai.Part{{FunctionResponse: &genai.FunctionResponse{
		ID: call.ID, Name: toolconfirmation.FunctionCallName, Response: map[string]any{"confirmed": confirmed},
	}}}}
}

func pendingOf(t *testing.T, call *genai.FunctionCall) adk.Pending {
	t.Helper()
	b, err := json.Marshal(call.Args["toolConfirmation"])
	if err != nil {
		t.Fatal(err)
	}
	var tc struct{ Payload adk.Pending }
	if err := json.Unmarshal(b, &tc); err != nil {
		t.Fatal(err)
	}
	return tc.Payload
}

func chargeCall(amount float64) *genai.FunctionCall {
	return &genai.FunctionCall{Name: "charge", Args: map[string]any{"amount": amount}}
}

var hello = genai.NewContentFromText("hello", genai.RoleUser)

func TestDecisions(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func(context.Context) context.Context
		call    *genai.FunctionCall
		checker agenttrust.Checker
		runs    int32
		err     string // substring of the result's error; "" means the tool ran
	}{
		{name: "allowed", call: chargeCall(40), runs: 1},
		{name: "denied by rule", call: &genai.FunctionCall{Name: "delete_customer", Args: map[string]any{"amount": 1}},
			err: "agenttrust: denied: agents never delete customers"},
		{name: "identity from context wins", call: chargeCall(40),
			ctx: func(ctx context.Context) context.Context { return agenttrust.WithAgent(ctx, "other-agent", "s") },
			err: "agenttrust: denied: no rule allows this action"},
		{name: "check error fails closed", call: chargeCall(40),
			checker: agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
				return agenttrust.Decision{Reason: "store unavailable"}, agenttrust.ErrStoreUnavailable
			}),
			err: "agenttrust: denied: store unavailable"},
		{name: "error with allow fails closed", call: chargeCall(40),
			checker: agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
				return agenttrust.Decision{Effect: agenttrust.Allow}, errors.New("boom")
			}),
			err: "agenttrust: denied: no decision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.checker, tt.call)
			ctx := t.Context()
			if tt.ctx != nil {
				ctx = tt.ctx(ctx)
			}
			tr := f.run(t, ctx, hello)
			if got := f.runs.Load(); got != tt.runs {
				t.Errorf("tool ran %d times, want %d", got, tt.runs)
			}
			if got := errorOf(t, tr); !strings.Contains(got, tt.err) || (tt.err == "") != (got == "") {
				t.Errorf("result error = %q, want %q", got, tt.err)
			}
			if tr.confirm != nil {
				t.Errorf("unexpected confirmation request %v", tr.confirm.Args)
			}
		})
	}
}

func TestIdentityFromADK(t *testing.T) {
	var mu sync.Mutex
	var got agenttrust.Request
	checker := agenttrust.CheckerFunc(func(_ context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
		mu.Lock()
		defer mu.Unlock()
		got = req
		return agenttrust.Decision{Reason: "recorded"}, nil
	})
	f := newFixture(t, checker, chargeCall(7), adk.WithResource(func(tool string, args map[string]any) string {
		return tool + ":card"
	}))
	f.run(t, agenttrust.WithCredential(t.Context(), "atk_secret"), hello)
	mu.Lock()
	defer mu.Unlock()
	want := agenttrust.Request{AgentID: "billing-agent", Tool: "charge", Resource: "charge:card", SessionID: "session-1", OnBehalfOf: "user-1", Credential: "atk_secret"}
	if got.AgentID != want.AgentID || got.Tool != want.Tool || got.Resource != want.Resource || got.SessionID != want.SessionID ||
		got.OnBehalfOf != want.OnBehalfOf || got.Credential != want.Credential || got.Attributes["amount"] != json.Number("7") {
		t.Errorf("request = %+v, want %+v with amount 7", got, want)
	}
}

func TestNeedsApproval(t *testing.T) {
	tests := []struct {
		name      string
		approve   bool // approve in agenttrust before answering
		confirmed bool // the answer to ADK's confirmation
		runs      int32
		err       string
	}{
		{name: "approved and confirmed", approve: true, confirmed: true, runs: 1},
		{name: "confirmed without approval", confirmed: true, err: "not granted"},
		{name: "rejected", approve: true, confirmed: false, err: "agenttrust: denied: approval rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, chargeCall(80))
			ctx := t.Context()
			tr := f.run(t, ctx, hello)
			if f.runs.Load() != 0 {
				t.Fatal("tool ran before approval")
			}
			if got := errorOf(t, tr); !strings.Contains(got, "agenttrust: approval required") {
				t.Errorf("result error = %q, want approval required", got)
			}
			if tr.confirm == nil {
				t.Fatal("no adk_request_confirmation call")
			}
			p := pendingOf(t, tr.confirm)
			if p.ApprovalID == "" || p.Tool != "charge" || p.Reason != "charges over $50 need a human" {
				t.Fatalf("pending = %+v", p)
			}
			if tt.approve {
				if err := f.client.Approve(ctx, p.ApprovalID, "alice", ""); err != nil {
					t.Fatal(err)
				}
			}
			tr = f.run(t, ctx, confirmation(tt.confirmed, tr.confirm))
			if got := f.runs.Load(); got != tt.runs {
				t.Errorf("tool ran %d times, want %d", got, tt.runs)
			}
			if got := errorOf(t, tr); !strings.Contains(got, tt.err) || (tt.err == "") != (got == "") {
				t.Errorf("result error = %q, want %q", got, tt.err)
			}
		})
	}
}

func TestPluginNilChecker(t *testing.T) {
	if _, err := adk.Plugin(nil); !errors.Is(err, agenttrust.ErrInvalidConfig) {
		t.Errorf("Plugin(nil) error = %v, want ErrInvalidConfig", err)
	}
}
