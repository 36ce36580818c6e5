package genkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"

	"github.com/agenttrust/agenttrust"
	atgenkit "github.com/agenttrust/agenttrust/middleware/genkit"
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

type chargeInput struct {
	Amount float64 `json:"amount"`
}

type fixture struct {
	client  *agenttrust.Client
	g       *genkit.Genkit
	model   ai.Model
	charge  *ai.ToolAction[chargeInput, string]
	del     *ai.ToolAction[chargeInput, string]
	guarded ai.Middleware
	runs    atomic.Int32 // tool executions
}

// newFixture builds a Genkit app with a scripted model that calls
// toolName with input once, then answers "done" once it sees a tool's
// response. A nil checker means a client with the test policy.
func newFixture(t *testing.T, checker agenttrust.Checker, toolName string, input map[string]any) *fixture {
	t.Helper()
	f := &fixture{g: genkit.Init(t.Context())}
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
	f.guarded = atgenkit.Middleware(checker)
	run := func(*ai.ToolContext, chargeInput) (string, error) {
		f.runs.Add(1)
		return "charged", nil
	}
	f.charge = genkit.DefineTool(f.g, "charge", "charge a card", run)
	f.del = genkit.DefineTool(f.g, "delete_customer", "delete", run)
	f.model = genkit.DefineModel(f.g, "test/scripted", &ai.ModelOptions{Supports: &ai.ModelSupports{Multiturn: true, Tools: true}},
		func(_ context.Context, req *ai.ModelRequest, _ ai.ModelStreamCallback) (*ai.ModelResponse, error) {
			if req.Messages[len(req.Messages)-1].Role == ai.RoleTool {
				return &ai.ModelResponse{Request: req, Message: ai.NewModelTextMessage("done")}, nil
			}
			msg := ai.NewModelMessage(ai.NewToolRequestPart(&ai.ToolRequest{Name: toolName, Ref: "call-1", Input: input}))
			return &ai.ModelResponse{Request: req, Message: msg}, nil
		})
	return f
}

func (f *fixture) generate(ctx context.Context, opts ...ai.GenerateOption) (*ai.ModelResponse, error) {
	opts = append([]ai.GenerateOption{ai.WithModel(f.model), ai.WithTools(f.charge, f.del), ai.WithUse(f.guarded)}, opts...)
	return genkit.Generate(ctx, f.g, opts...)
}

// toolOutputs returns the tool responses in resp's history.
func toolOutputs(resp *ai.ModelResponse) []any {
	var out []any
	for _, m := range resp.History() {
		for _, p := range m.Content {
			if p.IsToolResponse() {
				out = append(out, p.ToolResponse.Output)
			}
		}
	}
	return out
}

func errorOf(t *testing.T, resp *ai.ModelResponse) string {
	t.Helper()
	out := toolOutputs(resp)
	if len(out) != 1 {
		t.Fatalf("got %d tool responses, want 1: %v", len(out), out)
	}
	if m, ok := out[0].(map[string]any); ok {
		s, _ := m["error"].(string)
		return s
	}
	return ""
}

func agentCtx(t *testing.T) context.Context {
	return agenttrust.WithAgent(t.Context(), "billing-agent", "session-1")
}

func TestDecisions(t *testing.T) {
	failing := func(d agenttrust.Decision, err error) agenttrust.Checker {
		return agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) { return d, err })
	}
	amount40 := map[string]any{"amount": 40.0}
	tests := []struct {
		name      string
		tool      string
		input     map[string]any
		anonymous bool // no agenttrust.WithAgent
		checker   agenttrust.Checker
		runs      int32
		err       string // prefix of the output's error; "" means the tool ran
	}{
		{name: "allowed", tool: "charge", input: amount40, runs: 1},
		{name: "denied by rule", tool: "delete_customer", input: amount40,
			err: "agenttrust: denied: agents never delete customers"},
		{name: "no identity", tool: "charge", input: amount40, anonymous: true, err: "agenttrust: denied: "},
		{name: "check error fails closed", tool: "charge", input: amount40,
			checker: failing(agenttrust.Decision{Reason: "store unavailable"}, agenttrust.ErrStoreUnavailable),
			err:     "agenttrust: denied: store unavailable"},
		{name: "error with allow fails closed", tool: "charge", input: amount40,
			checker: failing(agenttrust.Decision{Effect: agenttrust.Allow}, errors.New("boom")),
			err:     "agenttrust: denied: no decision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.checker, tt.tool, tt.input)
			ctx := agentCtx(t)
			if tt.anonymous {
				ctx = t.Context()
			}
			resp, err := f.generate(ctx, ai.WithPrompt("hello"))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.runs.Load(); got != tt.runs {
				t.Errorf("tool ran %d times, want %d", got, tt.runs)
			}
			if resp.FinishReason == ai.FinishReasonInterrupted {
				t.Fatalf("unexpected interrupt %v", resp.Interrupts())
			}
			if got := errorOf(t, resp); !strings.HasPrefix(got, tt.err) || (tt.err == "") != (got == "") {
				t.Errorf("output error = %q, want prefix %q", got, tt.err)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	var mu sync.Mutex
	var got agenttrust.Request
	checker := agenttrust.CheckerFunc(func(_ context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
		mu.Lock()
		defer mu.Unlock()
		got = req
		return agenttrust.Decision{Reason: "recorded"}, nil
	})
	f := newFixture(t, checker, "charge", map[string]any{"amount": 7.0})
	f.guarded = atgenkit.Middleware(checker, atgenkit.WithResource(func(tool string, args map[string]any) string {
		return tool + ":card"
	}))
	ctx := agenttrust.WithCredential(agenttrust.WithAgent(t.Context(), "billing-agent", "s-1"), "atk_secret")
	if _, err := f.generate(ctx, ai.WithPrompt("hello")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.AgentID != "billing-agent" || got.SessionID != "s-1" || got.Tool != "charge" || got.Resource != "charge:card" ||
		got.Credential != "atk_secret" || got.Attributes["amount"] != json.Number("7") {
		t.Errorf("request = %+v", got)
	}
}

func TestNilChecker(t *testing.T) {
	f := newFixture(t, nil, "charge", map[string]any{"amount": 40.0})
	f.guarded = atgenkit.Middleware(nil)
	if _, err := f.generate(agentCtx(t), ai.WithPrompt("hello")); !errors.Is(err, agenttrust.ErrInvalidConfig) {
		t.Errorf("Generate error = %v, want ErrInvalidConfig", err)
	}
	if f.runs.Load() != 0 {
		t.Error("tool ran")
	}
}

func TestNeedsApproval(t *testing.T) {
	tests := []struct {
		name    string
		approve bool // approve in agenttrust before restarting
		input   any  // replaces the input on restart
		runs    int32
		err     string
	}{
		{name: "approved", approve: true, runs: 1},
		{name: "not approved", err: "agenttrust: denied: approval "},
		{name: "approved, input replaced", approve: true, input: chargeInput{Amount: 90}, err: "agenttrust: denied: approval "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, "charge", map[string]any{"amount": 80.0})
			ctx := agentCtx(t)
			resp, err := f.generate(ctx, ai.WithPrompt("hello"))
			if err != nil {
				t.Fatal(err)
			}
			if f.runs.Load() != 0 {
				t.Fatal("tool ran before approval")
			}
			if resp.FinishReason != ai.FinishReasonInterrupted || len(resp.Interrupts()) != 1 {
				t.Fatalf("finish reason %q, interrupts %v", resp.FinishReason, resp.Interrupts())
			}
			part := resp.Interrupts()[0]
			p, ok := ai.InterruptAs[atgenkit.Pending](part)
			if !ok || p.ApprovalID == "" || p.Tool != "charge" || p.Reason != "charges over $50 need a human" {
				t.Fatalf("pending = %+v (%v)", p, part.Metadata)
			}
			if tt.approve {
				if err := f.client.Approve(ctx, p.ApprovalID, "alice", ""); err != nil {
					t.Fatal(err)
				}
			}
			restart := f.charge.Restart(part, &ai.RestartOptions{ReplaceInput: tt.input})
			resp, err = f.generate(ctx, ai.WithMessages(resp.History()...), ai.WithToolRestarts(restart))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.runs.Load(); got != tt.runs {
				t.Errorf("tool ran %d times, want %d", got, tt.runs)
			}
			if resp.FinishReason == ai.FinishReasonInterrupted {
				t.Errorf("interrupted again: %v", resp.Interrupts())
			}
			if got := errorOf(t, resp); !strings.HasPrefix(got, tt.err) || (tt.err == "") != (got == "") {
				t.Errorf("output error = %q, want prefix %q", got, tt.err)
			}
		})
	}
}
