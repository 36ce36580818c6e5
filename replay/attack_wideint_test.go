package replay_test

import (
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/replay"
)

// TestAttackReplayWideIntegerReading: a record keeps an integer past 2^53
// as its digits, but the request may have held it as a Go integer (a
// Guard struct field, a library caller), which a condition reads
// exactly, or as text (the HTTP API's json.Number), which a condition
// judges only where the exact reading and the nearest float64 agree.
// An agent whose ids are that large (snowflake ids) is allowed by a
// proposal that names one exactly; replay read the record only as text,
// found the condition unknown, and reported the record as the same
// deny: a change that widens access, hidden. Replay must count it as
// unknown, never as unchanged.
func TestAttackReplayWideIntegerReading(t *testing.T) {
	const old = "default: deny\nrules:\n  - {id: other, effect: allow, tools: [other]}\n"
	for name, tc := range map[string]struct {
		when  string
		value any
	}{
		// Both readings agree: the record is changed, and known.
		"int64 far from the bound": {"attr.account >= 1000", int64(1234567890123456789)},
		"int64 equal":              {"attr.account = 1234567890123456789", int64(1234567890123456789)},
		"int equal":                {"attr.account = 1234567890123456789", int(1234567890123456789)},
		"int64 at a bound":         {"attr.account >= 9007199254740993", int64(9007199254740993)},
		"negative int64":           {"attr.account <= -9007199254740993", int64(-9007199254740993)},
		"uint64":                   {"attr.account = 9007199254740995", uint64(9007199254740995)},
	} {
		t.Run(name, func(t *testing.T) {
			proposal := old + "  - {id: vip, effect: allow, tools: [refund], when: [\"" + tc.when + "\"]}\n"
			req := agenttrust.Request{AgentID: "bot-1", Tool: "refund", Attributes: map[string]any{"account": tc.value}}
			rec, was := recordOne(t, old, req)
			_, live := recordOne(t, proposal, req)
			// The attack is real: the proposal lets the request through.
			must.Equal(t, agenttrust.Deny, was.Effect)
			if live.Effect != agenttrust.Allow {
				t.Skipf("the proposal does not allow it live: %v %s", live.Effect, live.Reason)
			}
			rep := replayOne(t, rec, proposal)
			must.EqualValues(t, 1, rep.Replayed)
			expect.EqualValues(t, 0, rep.Same, "replay calls a newly allowed record unchanged")
			if name == "int64 far from the bound" {
				expect.EqualValues(t, 1, rep.Changed, "report %+v", rep)
				return
			}
			expect.EqualValues(t, 1, rep.Unknown, "report %+v", rep)
			if len(rep.Examples) == 1 {
				expect.Equal(t, replay.Unknown, rep.Examples[0].ToEffect)
				expect.Contains(t, rep.Examples[0].Why, "attr.account")
			}
		})
	}
}
