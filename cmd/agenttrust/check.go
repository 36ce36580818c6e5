package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/remote"
)

func checkCommand() *command {
	return &command{
		name:    "check",
		summary: "Ask whether an agent may take an action (exit 0 allow, 3 deny, 4 needs approval)",
		help: `Ask the server whether an agent may take an action, and print its decision.
The decision is recorded in the audit trail.

Whose credential is checked: --credential when given (a token or key an
agent presented); else the credential of --key when it is an agent's (its
caveats then bind the action); else, with an admin's key, none: the admin
vouches for --agent. An empty --credential is refused, never taken as none.

Exit codes: 0 allow, 3 deny (also when the checked credential is revoked,
expired or otherwise rejected), 4 needs approval (the approval's id is
printed; once approved, the same request is allowed once), 1 when no
proper decision could be made (server unreachable, its store down) and 2
for a usage error. Only 0 means the action may proceed.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var req agenttrust.Request
			var attrs stringList
			var attrsJSON string
			f.StringVar(&req.AgentID, "agent", "", "`ID` of the agent acting (required with an admin key and no --credential)")
			f.StringVar(&req.Tool, "tool", "", "`NAME` of the tool the agent wants to use (required)")
			f.StringVar(&req.Resource, "resource", "", "the `RESOURCE` acted on")
			f.StringVar(&req.SessionID, "session", "", "the agent's session `ID`")
			f.StringVar(&req.OnBehalfOf, "on-behalf-of", "", "the `PRINCIPAL` the agent acts for")
			f.Var(&attrs, "attr", "attribute `NAME=VALUE`; the value is JSON when it parses as JSON (40, true, \"40\"), else a string; repeat for several")
			f.StringVar(&attrsJSON, "attrs", "", "attributes as a JSON `OBJECT`, merged under --attr")
			f.StringVar(&req.Credential, "credential", "", "the `CREDENTIAL` to check (a token, key or JWT an agent presented), when not the one of --key; - reads it from stdin")
			f.require("tool")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				var err error
				if req.Attributes, err = parseAttrs(attrsJSON, attrs); err != nil {
					return err
				}
				if f.isSet("credential") && strings.TrimSpace(req.Credential) == "" {
					// Taken as no --credential, it would let --key's
					// admin vouch for --agent: an agent that presented
					// nothing would be checked as if it needed nothing.
					return usagef("--credential is empty: the credential to check is missing (leave the flag out to check with the one of --key)")
				}
				if req.Credential == "-" {
					if req.Credential, err = tokenArg(e, []string{"-"}); err != nil {
						return err
					}
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				d, err := rc.Check(ctx, req)
				var re *remote.Error
				if req.AgentID == "" && errors.As(err, &re) && re.Code == "missing_field" && strings.Contains(re.Message, "agent_id") {
					// An admin's key vouches for an agent, which must be named.
					return usagef("--agent is required with an admin key and no --credential: name the agent acting")
				}
				return reportDecision(e, o, d, err)
			}
		},
	}
}

// checkView is a decision as printed with --json: the fields of the API's
// check response.
type checkView struct {
	Allowed     bool   `json:"allowed"`
	Effect      string `json:"effect"`
	Reason      string `json:"reason"`
	RuleID      string `json:"rule_id"`
	DecisionID  string `json:"decision_id,omitempty"`
	ApprovalID  string `json:"approval_id"`
	AgentID     string `json:"agent_id"`
	StalenessNS int64  `json:"staleness_ns"`
	Error       string `json:"error,omitempty"`
}

// reportDecision prints the decision and returns the error that sets the
// exit code: nil for allow, 3 for deny, 4 for needs approval, a failure
// when no proper decision was made.
func reportDecision(e *env, o *out, d agenttrust.Decision, err error) error {
	code := ""
	var re *remote.Error
	if errors.As(err, &re) {
		code = re.Code
	}
	// A rejected credential is a decision (deny); anything else that went
	// wrong means there was no proper decision, and fails.
	if err != nil && !errors.Is(err, agenttrust.ErrUnauthorized) {
		if code != "" && !d.ID.IsZero() {
			return fmt.Errorf("the server denied without deciding properly: %s (%s)", d.Reason, code)
		}
		return err
	}
	if err != nil && code == "" {
		code = "unauthorized"
	}
	v := checkView{
		Allowed: d.Allowed(), Effect: d.Effect.String(), Reason: d.Reason, RuleID: d.Rule,
		ApprovalID: d.ApprovalID, AgentID: d.AgentID, StalenessNS: int64(d.Staleness), Error: code,
	}
	if !d.ID.IsZero() {
		v.DecisionID = d.ID.String()
	}
	if o.json {
		if perr := o.printJSON(v); perr != nil {
			return perr
		}
	} else {
		t := o.table()
		t.row("EFFECT", v.Effect)
		t.row("REASON", v.Reason)
		t.row("RULE", v.RuleID)
		if v.ApprovalID != "" {
			t.row("APPROVAL", v.ApprovalID)
		}
		t.row("AGENT", v.AgentID)
		t.row("DECISION", v.DecisionID)
		if code != "" {
			t.row("ERROR", code)
		}
		if perr := t.flush(); perr != nil {
			return perr
		}
	}
	switch d.Effect {
	case agenttrust.Allow:
		return nil
	case agenttrust.NeedsApproval:
		return &exitError{code: exitNeedsApproval}
	}
	return &exitError{code: exitDenied}
}

// parseAttrs builds the attributes from a JSON object and name=value
// pairs, the pairs winning.
func parseAttrs(object string, pairs []string) (map[string]any, error) {
	if object == "" && len(pairs) == 0 {
		return nil, nil
	}
	attrs := map[string]any{}
	if object != "" {
		dec := json.NewDecoder(strings.NewReader(object))
		dec.UseNumber()
		if err := dec.Decode(&attrs); err != nil {
			return nil, usagef("--attrs: want a JSON object: %v", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, usagef("--attrs: trailing data after the JSON object")
		}
	}
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, usagef("--attr %q: want name=value", p)
		}
		attrs[name] = attrValue(value)
	}
	return attrs, nil
}

// attrValue reads value as JSON (a number, true, a quoted string, ...)
// when it is JSON, else takes it as a string.
func attrValue(value string) any {
	dec := json.NewDecoder(strings.NewReader(value))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || v == nil {
		return value
	}
	if _, err := dec.Token(); err != io.EOF {
		return value
	}
	return v
}
