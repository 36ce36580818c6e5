package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/replay"
	"github.com/agenttrust/agenttrust/store/memory"
	"golang.org/x/text/unicode/norm"
)

// TestAttackReplayLostRequestData: an agent makes its requests lose data
// in their records, and replay must not tell the operator that a
// proposal leaves them as they were. Attributes that encode to more than
// 16 KiB are recorded as {"_truncated":true} (a long memo is enough);
// a resource that NFC lengthens past 1,024 bytes was recorded cut, with
// no mark, by versions before Check refused it (U+0958 is 3 bytes, 6 in
// NFC: 613 bytes sent, 1,213 checked), and such records are replayed.
// Each proposal changes the live outcome of the request; replay must
// count its record as unknown, whichever way the change goes.
func TestAttackReplayLostRequestData(t *testing.T) {
	memo := strings.Repeat("x", 20<<10)
	big := map[string]any{"amount": 50000, "memo": memo}
	// deep is a resource NFC lengthens past the record's bound; its tail
	// is what the proposals look at. wide makes the record cut it 1,021
	// bytes in, the shortest a cut leaves: the next character, 4 bytes,
	// would cross the bound.
	deep := func(tail string) string { return "files/" + strings.Repeat("\u0958", 200) + tail }
	wide := func(tail string) string {
		return "files/" + strings.Repeat("\u0958", 169) + "/" + strings.Repeat("\U0001F600", 100) + tail
	}
	const (
		transfer    = "default: deny\nrules:\n  - {id: small, effect: allow, tools: [transfer], when: [\"attr.amount <= 1000\"]}\n"
		transferAny = "default: deny\nrules:\n  - {id: any, effect: allow, tools: [transfer]}\n"
		files       = "default: deny\nrules:\n  - {id: files, effect: allow, tools: [read], resources: [\"files/**\"]}\n"
		none        = "default: deny\nrules:\n  - {id: other, effect: allow, tools: [other]}\n"
	)
	for name, tc := range map[string]struct {
		old, proposal string
		req           agenttrust.Request
	}{
		"attributes truncated, proposal allows": {
			old:      transfer,
			proposal: "default: deny\nrules:\n  - {id: small, effect: allow, tools: [transfer], when: [\"attr.amount <= 100000\"]}\n",
			req:      agenttrust.Request{Tool: "transfer", Attributes: big},
		},
		"attributes truncated, proposal denies": {
			old:      transferAny,
			proposal: transferAny + "  - {id: cap, effect: deny, tools: [transfer], when: [\"attr.amount? > 1000\"]}\n",
			req:      agenttrust.Request{Tool: "transfer", Attributes: big},
		},
		"attributes truncated, proposal declares a type": {
			old:      transferAny,
			proposal: transferAny + "attributes:\n  - {tools: [transfer], name: amount, type: string}\n",
			req:      agenttrust.Request{Tool: "transfer", Attributes: big},
		},
		"resource cut, proposal denies": {
			old:      files,
			proposal: files + "  - {id: no-keys, effect: deny, tools: [read], resources: [\"files/**/id_rsa\"]}\n",
			req:      agenttrust.Request{Tool: "read", Resource: deep("/id_rsa")},
		},
		"resource cut, proposal denies by condition": {
			old:      files,
			proposal: files + "  - {id: no-keys, effect: deny, tools: [read], when: [\"resource in files/**/id_rsa\"]}\n",
			req:      agenttrust.Request{Tool: "read", Resource: deep("/id_rsa")},
		},
		"resource cut, proposal allows": {
			old:      none,
			proposal: none + "  - {id: docs, effect: allow, tools: [read], resources: [\"files/**/README\"]}\n",
			req:      agenttrust.Request{Tool: "read", Resource: deep("/README")},
		},
		"resource cut on a 4-byte character, proposal allows": {
			old:      none,
			proposal: none + "  - {id: docs, effect: allow, tools: [read], resources: [\"files/**/README\"]}\n",
			req:      agenttrust.Request{Tool: "read", Resource: wide("/README")},
		},
	} {
		t.Run(name, func(t *testing.T) {
			tc.req.AgentID = "bot-1"
			var rec agenttrust.AuditRecord
			var was, live agenttrust.Effect
			if tc.req.Resource != "" {
				// Check now refuses a resource past the bound in NFC; a
				// record of an earlier version kept it cut, as here.
				full := norm.NFC.String(tc.req.Resource)
				cut := full[:1024]
				for !utf8.ValidString(cut) {
					cut = cut[:len(cut)-1]
				}
				short := tc.req
				short.Resource = cut
				rec, _ = recordOne(t, tc.old, short)
				must.Equal(t, cut, rec.Resource)
				in := agenttrust.PolicyInput{AgentID: tc.req.AgentID, Tool: tc.req.Tool, Resource: full}
				was, live = decideOn(t, tc.old, &in), decideOn(t, tc.proposal, &in)
			} else {
				var wasD, liveD agenttrust.Decision
				rec, wasD = recordOne(t, tc.old, tc.req)
				_, liveD = recordOne(t, tc.proposal, tc.req)
				was, live = wasD.Effect, liveD.Effect
				var b bytes.Buffer
				must.NoError(t, json.Compact(&b, rec.Attributes))
				must.Equal(t, `{"_truncated":true}`, b.String())
			}
			// The attack is real: the proposal changes what the request
			// gets.
			must.NotEqual(t, was, live, "the proposal changes nothing")

			rep := replayOne(t, rec, tc.proposal)
			must.EqualValues(t, 1, rep.Replayed)
			expect.EqualValues(t, 1, rep.Unknown, "replay claims %v -> same=%d changed=%d %+v; live %v", was, rep.Same, rep.Changed, rep.Rules, live)
			if len(rep.Examples) == 1 {
				expect.Equal(t, replay.Unknown, rep.Examples[0].ToEffect)
				expect.NotEmpty(t, rep.Examples[0].Why)
			}
		})
	}
}

// decideOn is the effect the policy doc gives in.
func decideOn(t *testing.T, doc string, in *agenttrust.PolicyInput) agenttrust.Effect {
	t.Helper()
	e, err := agenttrust.NewRuleEngine(testkit.Policy(t, doc, "yaml"))
	must.NoError(t, err)
	res, err := e.Evaluate(context.Background(), in)
	must.NoError(t, err)
	return res.Effect
}

// recordOne checks req under the policy doc: the record made, and the
// decision.
func recordOne(t *testing.T, doc string, req agenttrust.Request) (agenttrust.AuditRecord, agenttrust.Decision) {
	t.Helper()
	var mu sync.Mutex
	var recs []agenttrust.AuditRecord
	sink := sinkFunc(func(_ context.Context, rs []agenttrust.AuditRecord) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			r.Attributes = slices.Clone(r.Attributes)
			recs = append(recs, r)
		}
		return nil
	})
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(testkit.Policy(t, doc, "yaml")),
		agenttrust.WithClock(testkit.NewClock().Now), agenttrust.WithRandom(testkit.NewRandom()),
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
	must.NoError(t, err)
	defer c.Close()
	d, _ := c.Check(context.Background(), req)
	must.NoError(t, c.SyncAudit(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	must.Len(t, recs, 1)
	return recs[0], d
}

// replayOne replays rec against the policy doc.
func replayOne(t *testing.T, rec agenttrust.AuditRecord, doc string) *replay.Report {
	t.Helper()
	rep, err := replay.Run(context.Background(), all([]agenttrust.AuditRecord{rec}),
		replay.Config{Policy: testkit.Policy(t, doc, "yaml")})
	must.NoError(t, err)
	return rep
}
