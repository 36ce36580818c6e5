package cedar_test

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// BenchmarkEvaluate decides the same requests of the conformance table
// with the rule engine and the Cedar engine, in one run:
//
//	go test -run '^$' -bench Evaluate -benchmem ./cedar
func BenchmarkEvaluate(b *testing.B) {
	builtin, ce := loadBoth(b)
	rows := conformanceRows()
	pick := map[string]bool{
		"small charge EUR": true, "charge over 50 needs approval": true, "mailbox segment": true,
		"rogue agent beats an allow": true, "unknown tool": true,
	}
	for _, eng := range []struct {
		name string
		e    agenttrust.PolicyEngine
	}{{"builtin", builtin}, {"cedar", ce}} {
		b.Run(eng.name, func(b *testing.B) {
			ctx := context.Background()
			var ins []agenttrust.PolicyInput
			for _, r := range rows {
				if pick[r.name] {
					ins = append(ins, r.in)
				}
			}
			if len(ins) != len(pick) {
				b.Fatalf("picked %d rows", len(ins))
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				in := ins[i%len(ins)]
				if _, err := eng.e.Evaluate(ctx, &in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
