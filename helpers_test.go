package agenttrust_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// The shared fixtures (internal/testkit) under the names these tests
// use.
type testClock = testkit.Clock

func newTestClock() *testClock { return testkit.NewClock() }

func newSeededRandom() *testkit.Random { return testkit.NewRandom() }

type fixture struct {
	c     *agenttrust.Client
	st    store.Store
	clock *testClock
	audit *agenttrust.MemorySink
}

// newFixture builds a client over a fresh memory store with a YAML policy,
// a fixed clock and deterministic ids.
func newFixture(t *testing.T, policyYAML string, opts ...agenttrust.Option) *fixture {
	t.Helper()
	f := &fixture{st: memory.New(), clock: newTestClock(), audit: agenttrust.NewMemorySink(1000)}
	p, err := agenttrust.ParsePolicy([]byte(policyYAML), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := []agenttrust.Option{
		agenttrust.WithPolicy(p), agenttrust.WithClock(f.clock.Now),
		agenttrust.WithRandom(newSeededRandom()), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{f.audit}}),
	}
	f.c, err = agenttrust.New(f.st, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.c.Close() })
	return f
}

// records waits for the audit to drain and returns what the ring holds.
func (f *fixture) records(t *testing.T) []agenttrust.AuditRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.c.SyncAudit(ctx); err != nil {
		t.Fatal(err)
	}
	return f.audit.Records()
}

const paymentsPolicy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount <= 50"]
    reason: small charges are fine
  - id: big-charges
    effect: needs_approval
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount > 50"]
    reason: charges over 50 need a human
  - id: read-mail
    effect: allow
    agents: ["*"]
    tools: [mail.read]
    resources: ["mailbox:alice/*"]
  - id: no-deletes
    effect: deny
    tools: ["*.delete"]
    reason: nothing is deleted by agents
`

// sinkFunc adapts a function to agenttrust.AuditSink.
type sinkFunc func(ctx context.Context, recs []agenttrust.AuditRecord) error

func (f sinkFunc) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	return f(ctx, recs)
}

// inChildren runs each case of test in a test process of its own, so a
// case that crashes the process or leaves it blocked (a lock a panic
// left held) fails its subtest instead of the run: the parent starts
// os.Args[0] with -test.run naming test and env set to the case, and the
// child, seeing env, runs that case alone. A child still running after a
// minute is killed.
func inChildren(t *testing.T, test, env string, cases map[string]func(*testing.T)) {
	t.Helper()
	if name := os.Getenv(env); name != "" {
		cases[name](t)
		return
	}
	for name := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
			cmd.Env = append(os.Environ(), env+"="+name)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("the child process failed: %v\n%.2000s", err, out)
			}
		})
	}
}

// resourceCase is one check of a tool on a resource (with attributes) and
// the effect and rule it must get.
type resourceCase struct {
	tool, resource string
	want           agenttrust.Effect
	rule           string
	attrs          map[string]any
}

// checkResources checks each case on a client of policyYAML (newFixture).
func checkResources(t *testing.T, policyYAML string, cases []resourceCase) {
	t.Helper()
	f := newFixture(t, policyYAML)
	for _, tc := range cases {
		t.Run(tc.tool+" "+tc.resource, func(t *testing.T) {
			d, err := f.c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: tc.tool, Resource: tc.resource, Attributes: tc.attrs})
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != tc.want || d.Rule != tc.rule {
				t.Fatalf("%v by %q, want %v by %q", d.Effect, d.Rule, tc.want, tc.rule)
			}
		})
	}
}
