package replay_test

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/replay"
)

// A synthetic log of a company's worth of agents: 5,000 agents, 50
// tools, a 100-rule proposal. Records are made on the fly from their
// position, so the log is never held in memory, and the same position
// always gives the same record.
const (
	synthAgents = 5000
	synthTools  = 50
)

// synthPolicy is the proposal: per tool an allow rule for a group of
// agents, a needs_approval rule on large amounts; on some tools a deny
// on a redacted attribute or on the remote address, which no record
// keeps.
func synthPolicy(t testing.TB) *agenttrust.Policy {
	var b strings.Builder
	b.WriteString("default: deny\nrules:\n")
	for i := range synthTools {
		fmt.Fprintf(&b, "  - {id: big-%d, effect: needs_approval, tools: [tool-%d], when: [\"attr.amount > %d\"]}\n", i, i, 500+i*10)
		fmt.Fprintf(&b, "  - {id: use-%d, effect: allow, tools: [tool-%d], agents: [\"agent-%d*\"]}\n", i, i, i%10)
		switch i % 10 {
		case 3:
			fmt.Fprintf(&b, "  - {id: secret-%d, effect: deny, tools: [tool-%d], when: [\"attr.secret_level? > 4\"]}\n", i, i)
		case 7:
			fmt.Fprintf(&b, "  - {id: lab-%d, effect: deny, tools: [tool-%d], when: [\"ip in 10.0.0.0/8\", 'attr.env = \"prod\"']}\n", i, i)
		}
	}
	p, err := agenttrust.ParsePolicy([]byte(b.String()), "yaml")
	must.NoError(t, err)
	return p
}

var synthRules = []string{"", "use-1", "use-2", "big-3", "old-rule", "use-17"}

// synthAt makes record i of the synthetic log and the phase that decided
// it.
func synthAt(i int) (agenttrust.AuditRecord, replay.Phase) {
	rng := rand.New(rand.NewPCG(uint64(i), 0x10c))
	r := agenttrust.AuditRecord{
		Chain: "node-1/default", Seq: uint64(i + 1), Time: time.Unix(1.7e9+int64(i), 0).UTC(),
		AgentID:  fmt.Sprintf("agent-%d", rng.IntN(synthAgents)),
		Tool:     fmt.Sprintf("tool-%d", rng.IntN(synthTools)),
		Resource: fmt.Sprintf("db/table-%d", rng.IntN(100)),
		Effect:   agenttrust.Effect(rng.IntN(3)),
		Rule:     synthRules[rng.IntN(len(synthRules))],
	}
	attrs := fmt.Sprintf(`{"amount":%d,"env":%q`, rng.IntN(1500), []string{"prod", "dev"}[rng.IntN(2)])
	if rng.IntN(5) == 0 {
		attrs += `,"secret_level":"[redacted]"`
	}
	r.Attributes = []byte(attrs + "}")
	var phase replay.Phase
	switch rng.IntN(20) {
	case 0:
		r.Effect, r.Rule, r.Reason, phase = agenttrust.Deny, "", "agent revoked", replay.PhaseRevocation
	case 1:
		r.Effect, r.Rule, r.Reason, phase = agenttrust.Deny, "slow", "rate limit exceeded", replay.PhaseLimit
	}
	return r, phase
}

func synthLog(n int) iter.Seq2[agenttrust.AuditRecord, error] {
	return func(yield func(agenttrust.AuditRecord, error) bool) {
		for i := range n {
			r, _ := synthAt(i)
			if !yield(r, nil) {
				return
			}
		}
	}
}

// TestMillion replays a log of 1,000,000 records and checks every count
// against the brute-force re-evaluation. It reports the time the replay
// took (the bar: under a minute on the project's 2-vCPU machines):
//
//	go test -run TestMillion -v ./replay/
func TestMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("a million records: run without -short")
	}
	const n = 1_000_000
	p := synthPolicy(t)
	start := time.Now()
	got, err := replay.Run(context.Background(), synthLog(n), replay.Config{Policy: p})
	took := time.Since(start)
	must.NoError(t, err)
	t.Logf("replayed %d records in %v (%.0f records/s): same %d, changed %d, unknown %d, not replayable %v",
		got.Records, took.Round(time.Millisecond), float64(n)/took.Seconds(), got.Same, got.Changed, got.Unknown, got.NotReplayable)
	want := bruteForceAt(t, n, func(i int) (agenttrust.AuditRecord, replay.Phase) {
		return synthAt(i)
	}, p)
	expect.Equal(t, want.Records, got.Records)
	expect.Equal(t, want.NotReplayable, got.NotReplayable)
	expect.Equal(t, want.Same, got.Same)
	expect.Equal(t, want.Changed, got.Changed)
	expect.Equal(t, want.Unknown, got.Unknown)
	expect.ElementsMatch(t, want.Effects, got.Effects)
	expect.ElementsMatch(t, want.Rules, got.Rules)
	expect.Len(t, got.Agents, 1000)
	expect.Equal(t, synthAgents-1000, got.AgentsOmitted)
}

// BenchmarkRun replays b.N records of the synthetic log: ns/op is the
// cost of one record, making it included.
func BenchmarkRun(b *testing.B) {
	p := synthPolicy(b)
	b.ReportAllocs()
	b.ResetTimer()
	rep, err := replay.Run(context.Background(), synthLog(b.N), replay.Config{Policy: p})
	if err != nil || rep.Records != int64(b.N) {
		b.Fatal(err, rep.Records)
	}
}

// BenchmarkMake is the cost of making one synthetic record alone, to
// tell it from BenchmarkRun's.
func BenchmarkMake(b *testing.B) {
	n := 0
	for r := range synthLog(b.N) {
		n += len(r.Attributes)
	}
	if n == 0 {
		b.Fatal("no record")
	}
}
