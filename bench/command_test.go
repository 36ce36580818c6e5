package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuick runs every section as go run ./bench -quick does, so the
// command cannot rot: each engine must decide the scenario as it says, and
// every table and bar must come out. The figures are not judged here.
func TestQuick(t *testing.T) {
	o, err := parseFlags([]string{"-quick", "-json", "-plots", t.TempDir()}, io.Discard)
	require.NoError(t, err)
	// 100,000 policies take OPA half a minute to compile on a busy
	// machine; the sizes share every line of code, and a real run checks
	// each engine's decisions at every size before timing it.
	o.sizes = []int{10, 1_000}
	var out bytes.Buffer
	rep, err := run(context.Background(), o, &out)
	require.NoError(t, err, out.String())

	text := out.String()
	for _, want := range []string{"policy decision", "credentials", "bars", "Check flat from 10 to 1000 policies",
		"remote: 16 keep-alive callers", "serve (async audit) vs a bare net/http echo", "scale: Check latency", "summary:", "of 12 bars pass"} {
		assert.Contains(t, text, want)
	}
	names := map[string]bool{}
	for _, r := range rep.Results {
		names[r.Name] = true
		assert.Positive(t, r.NsPerOp, r.Name)
	}
	for _, n := range o.sizes {
		for _, c := range []string{"allow", "deny"} {
			for _, e := range []string{"agenttrust", "cedar-go", "OPA"} {
				assert.True(t, names[fmt.Sprintf("policy/%d/%s/%s", n, c, e)], "no result for %d %s %s", n, c, e)
			}
		}
	}
	for _, c := range []string{"token", "token-cached", "macaroon.v2", "golang-jwt-hs256", "jwt", "jwt-cached", "golang-jwt-eddsa"} {
		assert.True(t, names["credentials/"+c], "no result for %s", c)
	}
	for _, b := range rep.Bars {
		verdict := "FAIL"
		if b.Pass {
			verdict = "PASS"
		}
		assert.Contains(t, text, verdict+"  "+b.Name)
	}

	// -json output round-trips.
	data, err := json.Marshal(rep)
	require.NoError(t, err)
	var back report
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, len(rep.Results), len(back.Results))
	assert.Equal(t, len(rep.Bars), len(back.Bars))
}

// TestPolicyWithHeap runs the policy section with a live heap held: the
// table comes out, says so, and no bar is judged on it.
func TestPolicyWithHeap(t *testing.T) {
	o, err := parseFlags([]string{"-quick", "-only", "policy", "-heap", "8"}, io.Discard)
	require.NoError(t, err)
	o.sizes = []int{10}
	var out bytes.Buffer
	rep, err := run(context.Background(), o, &out)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "with 8 MiB of live heap")
	assert.Len(t, rep.Results, 6)
	assert.Empty(t, rep.Bars)
}

// TestEnginesAgree asks the three engines the same questions, at each
// size the command measures, and requires the answers the scenario
// gives: the benchmark compares equal work only if allow stays allow
// and deny stays deny in every engine. Beyond the two timed requests it
// exercises each of the ten policies the translation could get wrong and
// the synthetic shapes.
func TestEnginesAgree(t *testing.T) {
	attrs := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	base := []struct {
		req   request
		allow bool
	}{
		{allowRequest, true},
		{denyRequest, false},
		{request{"a1", "transfer", "acct-1", attrs("amount", 49)}, true},
		{request{"a1", "transfer", "acct-1", attrs("amount", 50)}, false},
		{request{"a1", "transfer", "acct-1", attrs("amount", 42, "blocked", true)}, false},
		{request{"a1", "search", "acct-1", attrs()}, true},    // trusted-search
		{request{"a1", "read_file", "acct-1", attrs()}, true}, // owner-reads
		{request{"a2", "read_file", "acct-1", attrs()}, false},
		{request{"a1", "delete_file", "acct-1", attrs()}, false}, // not an admin
		{request{"a2", "send_email", "acct-1", attrs()}, true},
		{request{"a1", "send_email", "acct-1", attrs()}, false},
		{request{"a2", "transfer", "acct-1", attrs("amount", 500, "approved", true)}, true},
		{request{"a2", "transfer", "acct-1", attrs("amount", 500, "approved", false)}, false},
		{request{"a2", "transfer", "acct-1", attrs("amount", 5000, "approved", true)}, false},
		{request{"rogue", "search", "acct-1", attrs()}, false},
		{request{"a3", "search", "acct-1", attrs()}, false},
	}
	synthetic := append(base[:2:2],
		[]struct {
			req   request
			allow bool
		}{
			{request{"agent-0", "transfer", "acct-1", attrs("amount", 1)}, true},  // shape 0
			{request{"agent-3", "tool-3", "acct-1", attrs("amount", 5)}, true},    // shape 3
			{request{"agent-3", "tool-3", "acct-1", attrs("amount", 10)}, false},  // shape 3, over
			{request{"agent-3", "transfer", "acct-1", attrs("amount", 1)}, false}, // no rule
		}...)
	// The synthetic rules are generated alike at every size, so 1,000
	// shows their translation; measure checks the timed requests at
	// 100,000 in every real run.
	for _, n := range []int{10, 1_000} {
		cases := base
		if n > 10 {
			cases = synthetic
		}
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			names, es, closeAll, err := engines(n)
			require.NoError(t, err)
			defer closeAll()
			for _, c := range cases {
				for i, e := range es {
					decide, err := e.prepare(c.req)
					require.NoError(t, err)
					got, err := decide()
					require.NoError(t, err, "%s on %v", names[i], c.req)
					assert.Equal(t, c.allow, got, "%s on %v", names[i], c.req)
				}
			}
		})
	}
}

// TestMeasureRefusesOtherDecision: a case whose engine decides other
// than the scenario says is an error, not a figure.
func TestMeasureRefusesOtherDecision(t *testing.T) {
	_, err := measure("wrong", func() (bool, error) { return false, nil }, true)
	require.ErrorContains(t, err, "the scenario says allow=true")

	calls := 0
	_, err = measure("flaky", func() (bool, error) { calls++; return calls < 1000, nil }, true)
	require.Error(t, err)
}

func TestFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "1s", o.benchtime)
	assert.Equal(t, []int{10, 1_000, 100_000}, o.sizes)

	o, err = parseFlags([]string{"-quick"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "50ms", o.benchtime)

	o, err = parseFlags([]string{"-quick", "-benchtime", "2s", "-only", "credentials", "-count", "3"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "2s", o.benchtime)
	assert.Equal(t, []string{"credentials"}, o.only)
	assert.Equal(t, 3, o.count)

	o, err = parseFlags([]string{"-heap", "64"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 64, o.heapMiB)

	var stderr strings.Builder
	_, err = parseFlags([]string{"-only", "nope"}, &stderr)
	require.Error(t, err)
	assert.Contains(t, stderr.String(), `no section "nope"`)
	_, err = parseFlags([]string{"-count", "0"}, io.Discard)
	require.Error(t, err)
	_, err = parseFlags([]string{"extra"}, io.Discard)
	require.Error(t, err)
}

// BenchmarkTable runs the command's cases as go test benchmarks, named as
// in -json, for benchstat:
//
//	go test -run '^$' -bench Table -count 10 > new.txt
func BenchmarkTable(b *testing.B) {
	// Each size loads its engines only when the -bench pattern selects it.
	for _, n := range []int{10, 1_000, 100_000} {
		b.Run(fmt.Sprintf("policy/%d", n), func(b *testing.B) {
			names, es, closeAll, err := engines(n)
			if err != nil {
				b.Fatal(err)
			}
			defer closeAll()
			for _, c := range policyCases {
				for i, e := range es {
					decide, err := e.prepare(c.req)
					if err != nil {
						b.Fatal(err)
					}
					b.Run(c.name+"/"+names[i], func(b *testing.B) { benchDecide(b, decide, c.allow) })
				}
			}
		})
	}
	b.Run("credentials", func(b *testing.B) {
		cases, closeAll, err := credentialCases(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		defer closeAll()
		for _, c := range cases {
			b.Run(c.name, func(b *testing.B) { benchDecide(b, c.decide, true) })
		}
	})
}

func benchDecide(b *testing.B, decide func() (bool, error), want bool) {
	b.ReportAllocs()
	for b.Loop() {
		if got, err := decide(); err != nil || got != want {
			b.Fatalf("decided allow=%v (%v), want %v", got, err, want)
		}
	}
}
