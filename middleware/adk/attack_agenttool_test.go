package adk_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/adk/v2/agent"
	"google.golang.org/adk/v2/agent/llmagent"
	"google.golang.org/adk/v2/plugin"
	"google.golang.org/adk/v2/runner"
	"google.golang.org/adk/v2/session"
	"google.golang.org/adk/v2/tool"
	"google.golang.org/adk/v2/tool/agenttool"
	"google.golang.org/adk/v2/tool/functiontool"
	"google.golang.org/genai"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware/adk"
)

// TestAttackAgentToolEscapesPlugin: ADK runs an agent given as a tool
// (agenttool.New) in a runner of its own, without the plugins of the
// runner that called it. The model of the outer agent asks for the
// sub-agent, whose model then calls a tool the policy denies or holds
// for approval: the plugin never sees that call. The plugin must refuse
// the agent tool rather than let its agent's tools run unchecked.
func TestAttackAgentToolEscapesPlugin(t *testing.T) {
	for name, call := range map[string]*genai.FunctionCall{
		"denied tool":           {Name: "delete_customer", Args: map[string]any{"amount": 1}},
		"tool needing approval": chargeCall(5000),
	} {
		t.Run(name, func(t *testing.T) {
			var runs, checks atomic.Int32
			checker := agenttrust.CheckerFunc(func(_ context.Context, r agenttrust.Request) (agenttrust.Decision, error) {
				checks.Add(1)
				switch {
				case r.Tool == "delete_customer":
					return agenttrust.Decision{Effect: agenttrust.Deny, Reason: "agents never delete customers"}, nil
				case r.Tool == "charge":
					return agenttrust.Decision{Effect: agenttrust.NeedsApproval, Reason: "big charge", ApprovalID: "apr_1"}, nil
				}
				return agenttrust.Decision{Effect: agenttrust.Allow}, nil
			})
			run := func(agent.Context, chargeArgs) (map[string]any, error) {
				runs.Add(1)
				return map[string]any{"status": "ok"}, nil
			}
			var subTools []tool.Tool
			for _, n := range []string{"charge", "delete_customer"} {
				ft, err := functiontool.New(functiontool.Config{Name: n, Description: n}, run)
				if err != nil {
					t.Fatal(err)
				}
				subTools = append(subTools, ft)
			}
			sub, err := llmagent.New(llmagent.Config{
				Name: "billing-agent", Description: "does billing",
				Model: &scriptedModel{call: call}, Tools: subTools,
			})
			if err != nil {
				t.Fatal(err)
			}
			front, err := llmagent.New(llmagent.Config{
				Name:  "front-desk",
				Model: &scriptedModel{call: &genai.FunctionCall{Name: "billing-agent", Args: map[string]any{"request": "do it"}}},
				Tools: []tool.Tool{agenttool.New(sub, nil)},
			})
			if err != nil {
				t.Fatal(err)
			}
			p, err := adk.Plugin(checker)
			if err != nil {
				t.Fatal(err)
			}
			r, err := runner.New(runner.Config{
				AppName: "test", Agent: front, SessionService: session.InMemoryService(),
				PluginConfig: runner.PluginConfig{Plugins: []*plugin.Plugin{p}}, AutoCreateSession: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			f := &fixture{runner: r}
			tr := f.run(t, t.Context(), hello)
			if n := runs.Load(); n != 0 {
				t.Errorf("the sub-agent's %s ran %d times without an allow", call.Name, n)
			}
			if n := checks.Load(); n != 0 {
				t.Errorf("checker asked %d times, want the agent tool refused before any check", n)
			}
			got := errorOf(t, tr)
			if !strings.HasPrefix(got, "agenttrust: denied: ") || !strings.Contains(got, "agent tool") {
				t.Errorf("agent tool result error = %q, want a denial naming the agent tool", got)
			}
		})
	}
}
