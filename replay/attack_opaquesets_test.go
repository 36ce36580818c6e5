package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/replay"
)

// TestAttackReplayOpaqueSets: replay decides a record whose attributes
// the policy reads but the record does not keep with a pair of policies
// compiled for that set of attributes, and kept up to 256 pairs per
// worker, compiling one more pair for every record past them. An agent
// picks the set: any string it sends holding "[redacted]" is one the
// record does not keep. Against a policy reading ten attributes it has
// 1,024 sets to cycle through: each worker then held 512 compiled copies
// of the policy (some 330 MB for a policy of 1,000 rules) and compiled
// two more for each record (a million records: hours). What replay keeps
// compiled must be bounded by the policy's size, whatever the trail, and
// its answers stay sound.
func TestAttackReplayOpaqueSets(t *testing.T) {
	for name, tc := range map[string]struct{ rules, attrs int }{
		"300 rules, 10 attributes": {300, 10},
		"600 rules, 9 attributes":  {600, 9},
	} {
		t.Run(name, func(t *testing.T) {
			p := &agenttrust.Policy{}
			for i := range tc.rules {
				p.Rules = append(p.Rules, agenttrust.Rule{
					ID: fmt.Sprintf("r%d", i), Effect: agenttrust.Allow, Tools: []string{fmt.Sprintf("tool%d", i)},
					When: []string{fmt.Sprintf("attr.a%d = x", i%tc.attrs)},
				})
			}
			sets := 1 << tc.attrs
			n := 2 * sets
			var before, after runtime.MemStats
			trail := func(yield func(agenttrust.AuditRecord, error) bool) {
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := range n {
					attrs := map[string]string{}
					for a := range tc.attrs {
						attrs[fmt.Sprintf("a%d", a)] = "x"
						if i%sets&(1<<a) != 0 {
							attrs[fmt.Sprintf("a%d", a)] = "[redacted]"
						}
					}
					raw, _ := json.Marshal(attrs)
					r := agenttrust.AuditRecord{
						Time: time.Unix(int64(i), 0), AgentID: "bot-1", Tool: fmt.Sprintf("tool%d", i%tc.rules),
						Attributes: raw, Effect: agenttrust.Deny, Reason: "no rule allows this action",
					}
					if !yield(r, nil) {
						return
					}
				}
				// Three batches of records no policy decided: once the
				// third is handed over, the worker is done with the rest.
				for range 3 * 512 {
					if !yield(agenttrust.AuditRecord{Tool: "agenttrust.policy.apply", Effect: agenttrust.Allow}, nil) {
						return
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
			}
			start := time.Now()
			rep, err := replay.Run(context.Background(), trail, replay.Config{Policy: p, Workers: 1})
			took := time.Since(start)
			must.NoError(t, err)
			kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("%d records in %v, %d MiB kept: same %d changed %d unknown %d", n, took.Round(time.Millisecond), kept>>20, rep.Same, rep.Changed, rep.Unknown)
			must.EqualValues(t, n, rep.Replayed)
			// Sound: a record whose rule reads an attribute it does not
			// keep is never told.
			opaque := int64(0)
			for i := range n {
				if i%sets&(1<<(i%tc.rules%tc.attrs)) != 0 {
					opaque++
				}
			}
			expect.True(t, rep.Unknown >= opaque && rep.Unknown+rep.Changed == int64(n), "records told though they depend on what is not kept: %d unknown, want %d", rep.Unknown, opaque)
			expect.True(t, kept < 40<<20, "replay keeps %d MiB of compiled policies", kept>>20)
		})
	}
}
