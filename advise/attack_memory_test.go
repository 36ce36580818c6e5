package advise_test

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/advise"
	"github.com/agenttrust/agenttrust/internal/testkit"
)

// TestAttackAdviseMemory: one agent shapes its own traffic so that the
// advice an operator runs over its trail keeps all of it in memory. Each
// check names a new tool or a new resource of about 1 KiB (denied by the
// default: the records are the policy's, and advise reads them); advise
// kept up to 50 resources for each of up to 100,000 tools, and up to
// 100,000 tools for each agent: some 5 GB for 5 million records, two a
// second for a month. Its memory must stay bounded whatever the trail
// holds, and the report must say what it left out.
func TestAttackAdviseMemory(t *testing.T) {
	const live = "default: deny\nrules:\n  - {id: read, effect: allow, tools: [read]}\n"
	pad := strings.Repeat("x", 1000)
	for name, tc := range map[string]struct {
		n              int
		tool, resource func(i int) string
	}{
		"a new resource each check": {
			n:        100_000,
			tool:     func(i int) string { return fmt.Sprintf("t%d", i/50) },
			resource: func(i int) string { return fmt.Sprintf("r/%d/%s", i, pad) },
		},
		"a new long tool name each check": {
			n:        100_000,
			tool:     func(i int) string { return fmt.Sprintf("t%d.%s", i, pad[:240]) },
			resource: func(int) string { return "r" },
		},
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			trail := func(yield func(agenttrust.AuditRecord, error) bool) {
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := range tc.n {
					r := agenttrust.AuditRecord{
						Time: start.Add(time.Duration(i) * time.Second), AgentID: "bot-1",
						Tool: tc.tool(i), Resource: tc.resource(i),
						Effect: agenttrust.Deny, Reason: "no rule allows this action",
					}
					if !yield(r, nil) {
						return
					}
				}
				// Still inside Run: what it holds now is what it kept.
				runtime.GC()
				runtime.ReadMemStats(&after)
			}
			rep, err := advise.Run(context.Background(), iter.Seq2[agenttrust.AuditRecord, error](trail), testkit.Policy(t, live, "yaml"), advise.Config{})
			must.NoError(t, err)
			must.EqualValues(t, tc.n, rep.Decided)
			kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("advise kept %d MiB for %d records", kept>>20, tc.n)
			expect.True(t, kept < 48<<20, "advise keeps the trail in memory: %d MiB", kept>>20)
			expect.True(t, rep.UncalledTruncated, "the report does not say it left records out")
		})
	}
}
