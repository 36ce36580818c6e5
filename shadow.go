package agenttrust

import (
	"context"
	"errors"
	"time"

	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/observe"
)

// The shadow policy (AuditConfig.Shadow): a candidate evaluated beside
// the live policy on each check the policy decides, whose disagreements
// are recorded and never enforced. Nothing here can change a decision:
// shadowCheck returns nothing, and what it notes in the check's state
// only reaches the audit record.

// shadowEffectError is the ShadowEffect of a shadow engine that failed.
const shadowEffectError = "error"

// shadowPolicy is the shadow engine, with its compilation when it is the
// built-in one, so that it decides on the check's condition environment
// as the live policy does.
type shadowPolicy struct {
	engine   PolicyEngine
	compiled *compiled // nil for other engines
}

func newShadowPolicy(e PolicyEngine) *shadowPolicy {
	if e == nil {
		return nil
	}
	s := &shadowPolicy{engine: e}
	if re, ok := e.(*ruleEngine); ok {
		s.compiled = re.compiled
	}
	return s
}

// shadowNote is what the shadow decided when it disagreed: the record's
// ShadowEffect and ShadowRule.
type shadowNote struct{ effect, rule string }

// fields returns the record's fields of n; empty for a nil note.
func (n *shadowNote) fields() (effect, rule string) {
	if n == nil {
		return "", ""
	}
	return n.effect, n.rule
}

// shadowCheck evaluates the shadow policy on the request the live policy
// just decided (live, liveErr) and notes in st what it decided if that
// differs in effect or rule. A condition the shadow cannot evaluate, or
// a declared attribute type the request breaks, is a deny of the shadow,
// as it would be live; any other failure, a panic included, is noted as
// an error.
func (c *Client) shadowCheck(ctx context.Context, req *Request, now time.Time, st *checkState, env *cond.Env, live *PolicyResult, liveErr error) {
	var res PolicyResult
	var err error
	if c.shadow.compiled != nil {
		err = c.shadow.compiled.evaluateEnv(env, &res)
	} else {
		res, err = c.evaluateEngine(ctx, c.shadow.engine, req, now, st)
	}
	liveEffect := live.Effect
	if liveErr != nil {
		liveEffect = Deny
	}
	var effect, rule string
	switch {
	case err != nil && !errors.Is(err, ErrUnevaluable) && !errors.Is(err, ErrInvalidRequest):
		effect = shadowEffectError
	default:
		e := res.Effect
		if err != nil {
			e = Deny
		}
		if e == liveEffect && res.Rule == live.Rule {
			return // agreement costs no allocation
		}
		effect, rule = e.String(), storable(res.Rule, noLimit)
	}
	st.shadow = &shadowNote{effect: effect, rule: rule}
	c.event(ctx, observe.Event{Kind: observe.ShadowDisagreed, Agent: req.AgentID, Tool: req.Tool, Outcome: effect})
}
