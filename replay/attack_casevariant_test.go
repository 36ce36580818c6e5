package replay_test

import (
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/replay"
)

// TestAttackReplayRedactedCaseVariant: a request sends an attribute a
// rule reads under a name that differs only in case (AMOUNT_TOKEN where
// the rule reads attr.amount_token?), and its name holds a secret word,
// so its record keeps only "[redacted]". Live, the variant makes the
// condition unknown, so the deny or needs_approval rule denies naming
// it. Replay left the redacted value out and then found the name absent,
// so "attr.amount_token?" was false and the rule skipped: it reported
// the record as still allowed, a decision that depends on a redacted
// value, which it promises never to report as allowed.
func TestAttackReplayRedactedCaseVariant(t *testing.T) {
	const old = "default: deny\nrules:\n  - {id: any, effect: allow, tools: [transfer]}\n"
	for name, tc := range map[string]struct {
		rule  string
		attrs map[string]any
	}{
		"deny, optional":           {`{id: cap, effect: deny, tools: [transfer], when: ["attr.amount_token? > 5"]}`, map[string]any{"AMOUNT_TOKEN": 50}},
		"deny, optional, in":       {`{id: cap, effect: deny, tools: [transfer], when: ["attr.api_key? in *"]}`, map[string]any{"Api_Key": "k"}},
		"needs approval, optional": {`{id: ask, effect: needs_approval, tools: [transfer], when: ["attr.session_token? = x"]}`, map[string]any{"Session_Token": "x"}},
		"deny, required":           {`{id: cap, effect: deny, tools: [transfer], when: ["attr.amount_token > 5"]}`, map[string]any{"AMOUNT_TOKEN": 50}},
	} {
		t.Run(name, func(t *testing.T) {
			proposal := old + "  - " + tc.rule + "\n"
			req := agenttrust.Request{AgentID: "bot-1", Tool: "transfer", Attributes: tc.attrs}
			rec, was := recordOne(t, old, req)
			_, live := recordOne(t, proposal, req)
			must.Equal(t, agenttrust.Allow, was.Effect)
			// The proposal stops the request live.
			must.Equal(t, agenttrust.Deny, live.Effect, live.Reason)
			expect.Contains(t, string(rec.Attributes), "[redacted]")
			rep := replayOne(t, rec, proposal)
			must.EqualValues(t, 1, rep.Replayed)
			expect.EqualValues(t, 0, rep.Same, "replay reports a record still allowed that the proposal denies")
			if rep.Changed == 1 {
				// Told: it must be the deny it is live.
				expect.Equal(t, "deny", rep.Examples[0].ToEffect)
				return
			}
			expect.EqualValues(t, 1, rep.Unknown)
			if len(rep.Examples) == 1 {
				expect.Equal(t, replay.Unknown, rep.Examples[0].ToEffect)
			}
		})
	}
}
