package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// modesPolicy is paymentsPolicy with tool modes; the deny and
// needs_approval rules must keep their meaning under every mode.
const modesPolicy = paymentsPolicy + `  - id: unclear
    effect: deny
    tools: [files.*]
    when: ["attr.size > 10"]
  - id: ask-shell
    effect: needs_approval
    tools: [shell.run]
  - id: allow-calendar
    effect: allow
    tools: ["calendar.*", "files.*"]
tool_modes:
  payments.charge: auto
  "calendar.*": ask
  calendar.read: auto
  "*.delete": auto
  "files.*": auto
  shell.run: deny
`

func TestToolModes(t *testing.T) {
	f := newFixture(t, modesPolicy)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		req    agenttrust.Request
		effect agenttrust.Effect
		rule   string
		err    error
	}{
		{"auto allows what a rule holds for approval", charge(60), agenttrust.Allow, "tool_mode:payments.charge", nil},
		{"auto leaves an allow alone", charge(10), agenttrust.Allow, "small-charges", nil},
		{"ask holds what a rule allows", agenttrust.Request{AgentID: "a", Tool: "calendar.write"},
			agenttrust.NeedsApproval, "tool_mode:calendar.*", nil},
		{"an exact name beats a glob", agenttrust.Request{AgentID: "a", Tool: "calendar.read"},
			agenttrust.Allow, "allow-calendar", nil},
		{"auto never lifts a deny rule", agenttrust.Request{AgentID: "a", Tool: "mail.delete"},
			agenttrust.Deny, "no-deletes", nil},
		{"auto never lifts an unevaluable deny", agenttrust.Request{AgentID: "a", Tool: "files.put",
			Attributes: map[string]any{"size": "big"}}, agenttrust.Deny, "unclear", agenttrust.ErrUnevaluable},
		{"auto never lifts the default deny", agenttrust.Request{AgentID: "other-bot", Tool: "payments.charge",
			Attributes: map[string]any{"amount": 60}}, agenttrust.Deny, "", nil},
		{"deny overrides needs_approval", agenttrust.Request{AgentID: "a", Tool: "shell.run"},
			agenttrust.Deny, "tool_mode:shell.run", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := f.c.Check(ctx, tc.req)
			expect.Equal(t, tc.effect, d.Effect, "effect (reason %q)", d.Reason)
			expect.Equal(t, tc.rule, d.Rule)
			if tc.err != nil {
				expect.ErrorIs(t, err, tc.err)
			} else {
				expect.NoError(t, err)
			}
		})
	}
}

// Among globs the longest wins, and at equal length the stricter mode, so
// the outcome does not depend on the map's order.
func TestToolModesPrecedence(t *testing.T) {
	for range 20 {
		f := newFixture(t, `
rules:
  - {id: all, effect: allow}
tool_modes:
  "a.*": auto
  "a.b*": ask
  "*.c": deny
  "x*": ask
  "*x": deny
`)
		ctx := context.Background()
		d, _ := f.c.Check(ctx, agenttrust.Request{AgentID: "z", Tool: "a.bc"})
		must.Equal(t, "tool_mode:a.b*", d.Rule) // longer than a.* and *.c
		d, _ = f.c.Check(ctx, agenttrust.Request{AgentID: "z", Tool: "xax"})
		must.Equal(t, "tool_mode:*x", d.Rule) // same length: deny beats ask
		must.Equal(t, agenttrust.Deny, d.Effect)
	}
}

func TestToolModesInvalid(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"rules: []\ntool_modes: {payments.charge: allow}\n", `mode "allow"`},
		{"rules: []\ntool_modes: {\"\": auto}\n", `tool_modes[""]`},
		{"rules: []\ntool_modes: {\"pay ments\": auto}\n", `tool_modes["pay ments"]`},
		{"rules: []\ntool_modes: {x: [auto]}\n", "cannot unmarshal"},
		{"rules: []\ntool_modes: {" + strings.Repeat("x", 120) + ": auto}\n", "at most 118"},
	} {
		_, err := agenttrust.ParsePolicy([]byte(tc.doc), "yaml")
		must.ErrorIs(t, err, agenttrust.ErrInvalidPolicy, tc.doc)
		must.ErrorContains(t, err, tc.want)
	}
	_, err := agenttrust.ParsePolicy([]byte(`{"rules": [], "tool_modes": {"x": 1}}`), "json")
	must.ErrorIs(t, err, agenttrust.ErrInvalidPolicy)
	p, err := agenttrust.ParsePolicy([]byte(`{"rules": [], "tool_modes": {"x.*": "ask"}}`), "json")
	must.NoError(t, err)
	must.Equal(t, map[string]string{"x.*": "ask"}, p.ToolModes)
}

const timeoutPolicy = `
rules:
  - id: ask-deploy
    effect: needs_approval
    tools: [deploy]
    approval_timeout: 90s
  - id: ask-slow
    effect: needs_approval
    tools: [slow]
    approval_timeout: 48h
`

// An unattended run that asks for approval fails closed once the rule's
// approval timeout passes with nobody answering: the guarded function
// never runs and a new check opens a new approval.
func TestApprovalTimeoutFailsClosed(t *testing.T) {
	_, err := agenttrust.ParsePolicy([]byte(timeoutPolicy), "yaml")
	must.ErrorContains(t, err, `approval_timeout "48h"`)
	f := newFixture(t, strings.Split(timeoutPolicy, "  - id: ask-slow")[0])
	ctx := context.Background()
	req := agenttrust.Request{AgentID: "ci-bot", Tool: "deploy"}
	d, err := f.c.Check(ctx, req)
	must.NoError(t, err)
	must.Equal(t, agenttrust.NeedsApproval, d.Effect)
	a, err := f.c.Approval(ctx, d.ApprovalID)
	must.NoError(t, err)
	expect.Equal(t, 90*time.Second, a.ExpiresAt.Sub(a.CreatedAt), "the rule's timeout, not the client's 15 minutes")

	ran := false
	deploy := middleware.Guard(f.c, "deploy", func(context.Context, struct{}) (string, error) {
		ran = true
		return "deployed", nil
	}, middleware.WaitForApproval())
	go func() { // nobody is watching: only the clock moves
		time.Sleep(50 * time.Millisecond)
		f.clock.Advance(91 * time.Second)
	}()
	wctx, cancel := context.WithTimeout(agenttrust.WithAgent(ctx, "ci-bot", ""), 10*time.Second)
	defer cancel()
	_, err = deploy(wctx, struct{}{})
	must.Error(t, err)
	expect.False(t, ran, "the guarded function ran without an approval")
	expect.False(t, errors.Is(err, context.DeadlineExceeded), "it waited for the caller's deadline, not the rule's timeout: %v", err)
	d2, err := f.c.Check(ctx, req)
	must.NoError(t, err)
	expect.Equal(t, agenttrust.NeedsApproval, d2.Effect)
	expect.NotEqual(t, d.ApprovalID, d2.ApprovalID, "a lapsed approval is reused")

	for _, bad := range []string{"0s", "-1m", "soon", "25h"} {
		_, err := agenttrust.ParsePolicy([]byte("rules:\n  - {id: r, effect: needs_approval, approval_timeout: "+bad+"}\n"), "yaml")
		expect.ErrorIs(t, err, agenttrust.ErrInvalidPolicy, bad)
	}
	_, err = agenttrust.ParsePolicy([]byte("rules:\n  - {id: r, effect: allow, approval_timeout: 1m}\n"), "yaml")
	expect.ErrorContains(t, err, "only meaningful on a needs_approval rule")
}
