package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// TestSoakShort runs the soak briefly: every operation and every check
// at the end, on a real server.
func TestSoakShort(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), config{duration: 3 * time.Second, workers: 4, seed: 1, dir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "soak: ok") || !strings.Contains(out.String(), "all verified") {
		t.Fatalf("output:\n%s", out.String())
	}
}

func TestSameDecisions(t *testing.T) {
	id := func(s string) agenttrust.DecisionID {
		d, err := store.ParseDecisionID(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b, c := id("01a24cc2-bccf-73ec-90e1-1a90e958c226"), id("01a24cc2-bccf-73ec-90e1-1a90e958c227"), id("01a24cc2-bccf-73ec-90e1-1a90e958c228")
	for _, tc := range []struct {
		name            string
		answered, trail []agenttrust.DecisionID
		want            string
	}{
		{"same", []agenttrust.DecisionID{a, b}, []agenttrust.DecisionID{b, a}, ""},
		{"missing", []agenttrust.DecisionID{a, b}, []agenttrust.DecisionID{a}, "1 missing"},
		{"twice", []agenttrust.DecisionID{a}, []agenttrust.DecisionID{a, a}, "1 recorded twice"},
		{"never answered", []agenttrust.DecisionID{a}, []agenttrust.DecisionID{a, c}, "1 never answered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sameDecisions(tc.answered, tc.trail)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestFlat(t *testing.T) {
	for _, tc := range []struct {
		name      string
		warm, end sample
		ok        bool
	}{
		{"steady", sample{heap: 64 << 20, goroutines: 40}, sample{heap: 70 << 20, goroutines: 41}, true},
		{"within bound", sample{heap: 4 << 20, goroutines: 40}, sample{heap: 22 << 20, goroutines: 48}, true},
		{"heap leak", sample{heap: 64 << 20, goroutines: 40}, sample{heap: 200 << 20, goroutines: 40}, false},
		{"goroutine leak", sample{heap: 64 << 20, goroutines: 40}, sample{heap: 64 << 20, goroutines: 49}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := result{warm: tc.warm, end: tc.end}
			if err := r.flat(); (err == nil) != tc.ok {
				t.Fatalf("flat = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
