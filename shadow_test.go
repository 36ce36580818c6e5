package agenttrust_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store/memory"
)

const shadowLive = `
rules:
  - id: small-charges
    effect: allow
    tools: [charge]
    when: ["attr.amount <= 100"]
  - id: big-charges
    effect: needs_approval
    tools: [charge]
    when: ["attr.amount > 100"]
`

// shadowCandidate lowers the threshold to 50.
const shadowCandidate = `
rules:
  - id: small-charges
    effect: allow
    tools: [charge]
    when: ["attr.amount <= 50"]
  - id: big-charges
    effect: needs_approval
    tools: [charge]
    when: ["attr.amount > 50"]
`

func shadowEngine(t testing.TB, doc string) agenttrust.PolicyEngine {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(doc), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := agenttrust.NewRuleEngine(p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func shadowCharge(amount int) agenttrust.Request {
	return agenttrust.Request{AgentID: "billing", Tool: "charge", Attributes: map[string]any{"amount": amount}}
}

// TestShadowRecordsDisagreements: the shadow's disagreements are in the
// records, under the chain's MAC, with an event each; agreement leaves
// the record as it is without a shadow; the live decision is the live
// policy's in every case.
func TestShadowRecordsDisagreements(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	f := newFixture(t, shadowLive, agenttrust.WithObserver(rec),
		agenttrust.WithAudit(agenttrust.AuditConfig{Shadow: shadowEngine(t, shadowCandidate)}))
	for _, tc := range []struct {
		amount             int
		effect             agenttrust.Effect
		shadowEff, shadowR string
	}{
		{20, agenttrust.Allow, "", ""},
		{80, agenttrust.Allow, "needs_approval", "big-charges"},
		{500, agenttrust.NeedsApproval, "", ""},
	} {
		d, err := f.c.Check(ctx, shadowCharge(tc.amount))
		if err != nil || d.Effect != tc.effect {
			t.Fatalf("amount %d: %v %q %v, want the live %v", tc.amount, d.Effect, d.Reason, err, tc.effect)
		}
	}
	// A check no policy decides (invalid) is not shadowed.
	f.c.Check(ctx, agenttrust.Request{AgentID: "billing"})
	recs := f.records(t)
	if len(recs) != 4 {
		t.Fatalf("%d records", len(recs))
	}
	want := [][2]string{{}, {"needs_approval", "big-charges"}, {}, {}}
	for i, r := range recs {
		if got := [2]string{r.ShadowEffect, r.ShadowRule}; got != want[i] {
			t.Errorf("record %d: shadow %q, want %q", i, got, want[i])
		}
	}
	if err := f.c.VerifyChain(recs); err != nil {
		t.Fatal(err)
	}
	// The shadow fields are under the MAC: a record whose disagreement
	// is erased, or invented, no longer verifies.
	for i, edit := range []func(r *agenttrust.AuditRecord){
		func(r *agenttrust.AuditRecord) { r.ShadowEffect, r.ShadowRule = "", "" },
		func(r *agenttrust.AuditRecord) { r.ShadowEffect = "allow" },
	} {
		forged := append([]agenttrust.AuditRecord(nil), recs...)
		edit(&forged[1])
		if err := f.c.VerifyChain(forged); !errors.Is(err, agenttrust.ErrChainBroken) {
			t.Errorf("edit %d of the shadow fields verified: %v", i, err)
		}
	}
	if n, outcomes, _ := rec.count(observe.ShadowDisagreed); n != 1 || outcomes[0] != "needs_approval" {
		t.Errorf("shadow events %d %v", n, outcomes)
	}
}

// TestShadowNeverEnforced: whatever the shadow does (deny all, fail,
// panic, answer nonsense), every check decides as the live policy alone
// does and returns no error of it; the failures are recorded as
// "error".
func TestShadowNeverEnforced(t *testing.T) {
	ctx := context.Background()
	shadows := map[string]struct {
		e    agenttrust.PolicyEngine
		want string
	}{
		"deny all": {agenttrust.PolicyEngineFunc(func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{Effect: agenttrust.Deny, Rule: "nope"}, nil
		}), "deny"},
		"fails": {agenttrust.PolicyEngineFunc(func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{Effect: agenttrust.Allow}, errors.New("down")
		}), "error"},
		"panics": {agenttrust.PolicyEngineFunc(func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			panic("boom")
		}), "error"},
		"bad effect": {agenttrust.PolicyEngineFunc(func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{Effect: 9}, nil
		}), "error"},
		"allow all": {agenttrust.PolicyEngineFunc(func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{Effect: agenttrust.Allow, Rule: "small-charges"}, nil
		}), "allow"},
	}
	reqs := []agenttrust.Request{shadowCharge(20), shadowCharge(500), {AgentID: "billing", Tool: "delete"}}
	plain := newFixture(t, shadowLive)
	var want []agenttrust.Decision
	for _, req := range reqs {
		d, err := plain.c.Check(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, d)
	}
	for name, s := range shadows {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, shadowLive, agenttrust.WithAudit(agenttrust.AuditConfig{Shadow: s.e}))
			for i, req := range reqs {
				d, err := f.c.Check(ctx, req)
				if err != nil || d.Effect != want[i].Effect || d.Rule != want[i].Rule || d.Reason != want[i].Reason {
					t.Errorf("check %d: %v %q %q %v, want the live %v %q %q", i, d.Effect, d.Rule, d.Reason, err, want[i].Effect, want[i].Rule, want[i].Reason)
				}
			}
			recs := f.records(t)
			disagreed := 0
			for _, r := range recs {
				if r.ShadowEffect != "" {
					disagreed++
					if r.ShadowEffect != s.want {
						t.Errorf("shadow effect %q, want %q", r.ShadowEffect, s.want)
					}
				}
			}
			if disagreed == 0 {
				t.Errorf("no disagreement recorded")
			}
		})
	}
}

// TestShadowAgreeingEncodesAsWithout: a record the shadow agrees with is
// byte for byte the record a client without a shadow makes, MAC
// included.
func TestShadowAgreeingEncodesAsWithout(t *testing.T) {
	ctx := context.Background()
	key, err := agenttrust.NewAuditKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	make := func(opts ...agenttrust.Option) []agenttrust.AuditRecord {
		f := newFixture(t, shadowLive, append(opts, agenttrust.WithAudit(agenttrust.AuditConfig{Key: key}))...)
		for _, a := range []int{10, 30, 700} {
			f.c.Check(ctx, shadowCharge(a))
		}
		return f.records(t)
	}
	without := make()
	with := make(agenttrust.WithAudit(agenttrust.AuditConfig{Shadow: shadowEngine(t, shadowCandidate)}))
	if len(with) != 3 || len(without) != 3 {
		t.Fatalf("%d and %d records", len(with), len(without))
	}
	for i := range with {
		if !bytes.Equal(agenttrust.AuditCanonical(&with[i]), agenttrust.AuditCanonical(&without[i])) || with[i].Hash != without[i].Hash {
			t.Errorf("record %d differs with an agreeing shadow", i)
		}
	}
}

// BenchmarkCheckShadow is the cost of a shadow policy: checks on a
// client with none, with a built-in shadow that agrees, and with one that
// disagrees (its record then carries the disagreement), run in
// alternating blocks so that the load of a shared machine falls on all
// three alike. It reports ns per check of each and the ratios to none.
func BenchmarkCheckShadow(b *testing.B) {
	ctx := context.Background()
	p, err := agenttrust.ParsePolicy([]byte(shadowLive), "yaml")
	if err != nil {
		b.Fatal(err)
	}
	shadows := []agenttrust.PolicyEngine{nil, shadowEngine(b, shadowLive), shadowEngine(b, shadowCandidate)}
	clients := make([]*agenttrust.Client, len(shadows))
	for i, sh := range shadows {
		c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Shadow: sh}))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	req := shadowCharge(80)
	const block = 256
	var spent [3]time.Duration
	var count [3]int
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		k := (n / block) % 3 // each block of checks on the next client
		start := time.Now()
		if d, _ := clients[k].Check(ctx, req); d.Effect != agenttrust.Allow {
			b.Fatal(d.Reason)
		}
		spent[k] += time.Since(start)
		count[k]++
		n++
	}
	per := func(k int) float64 { return float64(spent[k].Nanoseconds()) / float64(count[k]) }
	if n >= 3*block {
		b.ReportMetric(per(0), "ns/check-none")
		b.ReportMetric(per(1), "ns/check-agrees")
		b.ReportMetric(per(2), "ns/check-disagrees")
		b.ReportMetric(per(1)/per(0), "x-agrees")
		b.ReportMetric(per(2)/per(0), "x-disagrees")
	}
}
