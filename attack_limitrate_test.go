package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackLimitRateMeansNoLimit: a limit's rate must be a positive
// number of calls per second, minute or hour. "nan/m" (what a generator
// formatting 0/0 writes: Python's f"{x/y}/m") slipped past the check
// "v <= 0 || v > 1e9", which NaN fails both ways, and made a bucket that
// never empties. A cluster limit so slow that its time per request
// overflows a time.Duration became one of 1ns per request. Each such
// limit allowed every call; each is refused now.
func TestAttackLimitRateMeansNoLimit(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct{ name, rate, scope string }{
		{"nan", "NaN/s", "node"},
		{"nan_lower", "nan/m", "node"},
		{"nan_signed", "+NaN/h", "node"},
		{"nan_cluster", "nan/m", "cluster"},
		{"overflow_cluster", "0.00000000001/s", "cluster"},
		{"overflow_cluster_hour", "0.0000001/h", "cluster"},
		{"subnormal_cluster", "1e-320/s", "cluster"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := fmt.Sprintf("default: allow\nlimits:\n  - id: slow\n    tools: [send]\n    rate: %q\n    burst: 1\n    scope: %s\n", tt.rate, tt.scope)
			p, err := agenttrust.ParsePolicy([]byte(doc), "yaml")
			if err == nil {
				allowed := 0
				c, cerr := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
				if cerr != nil {
					t.Fatalf("rate %q accepted by ParsePolicy, refused by New: %v", tt.rate, cerr)
				}
				defer c.Close()
				for range 5 {
					if d, _ := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "send"}); d.Allowed() {
						allowed++
					}
				}
				t.Fatalf("rate %q (burst 1, scope %s) accepted; it allowed %d of 5 calls", tt.rate, tt.scope, allowed)
			}
			var pe *agenttrust.PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, agenttrust.ErrInvalidPolicy) || pe.Rule != "slow" {
				t.Fatalf("got %v; want a *PolicyError naming limit slow", err)
			}
		})
	}
	// The control: a slow limit that a Duration holds still limits.
	for _, scope := range []string{"node", "cluster"} {
		doc := "default: allow\nlimits:\n  - id: slow\n    tools: [send]\n    rate: 1/h\n    burst: 1\n    scope: " + scope + "\n"
		p, err := agenttrust.ParsePolicy([]byte(doc), "yaml")
		if err != nil {
			t.Fatalf("control %s: %v", scope, err)
		}
		c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
		if err != nil {
			t.Fatal(err)
		}
		allowed := 0
		for range 5 {
			if d, _ := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "send"}); d.Allowed() {
				allowed++
			}
		}
		c.Close()
		if allowed != 1 {
			t.Fatalf("control %s: 1/h with burst 1 allowed %d of 5", scope, allowed)
		}
	}
}
