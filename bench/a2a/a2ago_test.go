package a2a_test

import (
	"context"
	"iter"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	a2aproto "github.com/a2aproject/a2a-go/v2/a2a"
	"github.com/a2aproject/a2a-go/v2/a2aclient"
	"github.com/a2aproject/a2a-go/v2/a2asrv"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/middleware/a2a"
)

// researcher is an a2a-go agent that records every call that reaches it
// and the decision the middleware put in its context.
type researcher struct {
	mu        sync.Mutex
	calls     int
	decisions []agenttrust.Decision
}

func (e *researcher) Execute(ctx context.Context, _ *a2asrv.ExecutorContext) iter.Seq2[a2aproto.Event, error] {
	e.mu.Lock()
	e.calls++
	if d, ok := agenttrust.DecisionFrom(ctx); ok {
		e.decisions = append(e.decisions, d)
	}
	e.mu.Unlock()
	return func(yield func(a2aproto.Event, error) bool) {
		yield(a2aproto.NewMessage(a2aproto.MessageRoleAgent, a2aproto.NewTextPart("found it")), nil)
	}
}

func (e *researcher) Cancel(_ context.Context, ec *a2asrv.ExecutorContext) iter.Seq2[a2aproto.Event, error] {
	return func(yield func(a2aproto.Event, error) bool) {
		yield(a2aproto.NewStatusUpdateEvent(ec, a2aproto.TaskStateCanceled, nil), nil)
	}
}

func (e *researcher) seen() (int, []agenttrust.Decision) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls, append([]agenttrust.Decision(nil), e.decisions...)
}

// a2a-go's own client and server with agenttrust between them, as the
// package doc wires them: a2a.Transport in the client's http.Client
// narrows the caller's token for each call, and middleware.HTTP in front
// of a2asrv's JSON-RPC handler checks it before the agent runs.
func TestA2AGoClientAndServer(t *testing.T) {
	c, _, tok := newClient(t)
	agent := &researcher{}
	action, err := middleware.Routes(middleware.Route{Pattern: "POST /", Tool: "research.ask"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(middleware.HTTP(c, middleware.Options{Action: action})(
		a2asrv.NewJSONRPCHandler(a2asrv.NewHandler(agent))))
	t.Cleanup(srv.Close)

	info, err := agenttrust.InspectTokenUnverified(tok)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		client    *http.Client
		cred      string
		revoke    bool // revoke the caller's token before the call
		wantCalls int  // calls reaching the agent
	}{
		{name: "allowed, one hop narrower", client: &http.Client{Transport: &a2a.Transport{}}, cred: tok, wantCalls: 1},
		{name: "caveat forbids the tool", client: &http.Client{Transport: &a2a.Transport{Caveats: a2a.Caveats("tool in tools.*")}}, cred: tok},
		{name: "no credential to delegate", client: &http.Client{Transport: &a2a.Transport{}}},
		{name: "no credential sent", client: &http.Client{}, cred: tok},
		{name: "caller's token revoked", client: &http.Client{Transport: &a2a.Transport{}}, cred: tok, revoke: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.revoke {
				if err := c.Revoke(ctx, info.ID); err != nil {
					t.Fatal(err)
				}
			}
			if tt.cred != "" {
				ctx = agenttrust.WithCredential(ctx, tt.cred)
			}
			factory := a2aclient.NewFactory(a2aclient.WithJSONRPCTransport(tt.client))
			client, err := factory.CreateFromEndpoints(ctx, []*a2aproto.AgentInterface{
				a2aproto.NewAgentInterface(srv.URL, a2aproto.TransportProtocolJSONRPC)})
			if err != nil {
				t.Fatal(err)
			}
			before, _ := agent.seen()
			res, err := client.SendMessage(ctx, &a2aproto.SendMessageRequest{
				Message: a2aproto.NewMessage(a2aproto.MessageRoleUser, a2aproto.NewTextPart("find x"))})
			after, decisions := agent.seen()
			if got := after - before; got != tt.wantCalls {
				t.Fatalf("%d calls reached the agent, want %d (result %v, err %v)", got, tt.wantCalls, res, err)
			}
			if tt.wantCalls == 0 {
				if err == nil {
					t.Fatalf("refused call returned no error: %v", res)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := res.(*a2aproto.Message); !ok || len(m.Parts) == 0 || m.Parts[0].Text() != "found it" {
				t.Fatalf("result %#v", res)
			}
			if len(decisions) == 0 {
				t.Fatal("the agent's context carries no decision")
			}
			d := decisions[len(decisions)-1]
			if !d.Allowed() || d.AgentID != "planner" || len(d.HopIDs) != 1 {
				t.Fatalf("agent saw decision %+v, want an allow for planner through one hop", d)
			}
		})
	}
}
