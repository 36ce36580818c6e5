package scale

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// The measured request: agent a1 transfers 42 from acct-1 in session
// sess-1, which the rule a1-transfers allows.
func request() agenttrust.Request {
	return agenttrust.Request{AgentID: "a1", SessionID: "sess-1", Tool: "transfer", Resource: "acct-1",
		Attributes: map[string]any{"amount": 42}}
}

func allowRule() agenttrust.Rule {
	return agenttrust.Rule{ID: "a1-transfers", Effect: agenttrust.Allow, Agents: []string{"a1", "agent-*"},
		Tools: []string{"transfer"}, When: []string{"attr.amount < 50"}}
}

func basePolicy() *agenttrust.Policy {
	return &agenttrust.Policy{Default: agenttrust.Deny, Rules: []agenttrust.Rule{allowRule()}}
}

// fillerRules makes n rules none of which decides the measured request.
// The "mixed" shapes are those of real policies (exact names, agent and
// tool globs, conditions, denies of other tools for a1): an engine that
// scans every rule pays for each, an indexed one for none. The
// "same-pair" shape gives every rule the request's agent and tool and its
// own resource glob (per-account rules of one agent), so that an index by
// agent and tool still leaves all of them to look at.
func fillerRules(n int, shape string) []agenttrust.Rule {
	rules := make([]agenttrust.Rule, 0, n)
	for i := range n {
		r := agenttrust.Rule{ID: fmt.Sprintf("filler-%d", i), Effect: agenttrust.Allow}
		switch k := i % 4; {
		case shape == samePair:
			r.Agents, r.Tools, r.Resources = []string{"a1"}, []string{"transfer"}, []string{fmt.Sprintf("acct-%d-*", i)}
		case k == 0:
			r.Agents, r.Tools = []string{fmt.Sprintf("bot-%d", i)}, []string{"transfer"}
		case k == 1:
			r.Agents, r.Tools = []string{fmt.Sprintf("team-%d-*", i)}, []string{fmt.Sprintf("tool-%d", i)}
		case k == 2:
			r.Effect, r.Agents, r.Tools = agenttrust.Deny, []string{"a1"}, []string{fmt.Sprintf("tool-%d.*", i)}
		default:
			r.Agents, r.Tools, r.When = []string{fmt.Sprintf("bot-%d", i)}, []string{fmt.Sprintf("tool-%d", i)}, []string{"attr.amount < 10"}
		}
		rules = append(rules, r)
	}
	return rules
}

// The shapes of fillerRules.
const (
	mixed    = "mixed"
	samePair = "same-pair"
)

// policies: one client per size over the memory store; the policy is
// held by the client whatever the store, so one store tells it all.
func (r *run) policies(ctx context.Context) ([]Curve, error) {
	var out []Curve
	for _, shape := range []string{mixed, samePair} {
		c := Curve{Dimension: Policies, Series: Memory + "-" + shape}
		for _, n := range sizes(min(r.opts.Max, 100_000)) {
			p := basePolicy()
			// The deciding rule comes last, behind every filler.
			p.Rules = append(fillerRules(n-1, shape), allowRule())
			st := memory.New()
			t0 := time.Now()
			cl, err := agenttrust.New(st, agenttrust.WithPolicy(p))
			load := time.Since(t0)
			if err != nil {
				st.Close()
				return append(out, c), err
			}
			ns, fast, err := measure(ctx, cl, request(), r.t)
			cl.Close()
			st.Close()
			if err != nil {
				return append(out, c), fmt.Errorf("%d rules: %w", n, err)
			}
			pt := Point{N: n, NsPerOp: ns, Fastest: fast, Load: load}
			r.row(Policies, c.Series, pt)
			c.Points = append(c.Points, pt)
		}
		c.Note = "load = agenttrust.New compiling the policy; the matching rule is the last"
		out = append(out, c)
	}
	return out, nil
}

// keys: n API keys of n agents; the check presents one of them.
func (r *run) keys(ctx context.Context) ([]Curve, error) {
	secret, err := apikey.Generate(nil)
	if err != nil {
		return nil, err
	}
	checked := store.Key{ID: "key_checked", Tenant: agenttrust.DefaultTenant, AgentID: "a1",
		Hash: apikey.Hash(secret), Roles: []string{store.RoleAgent}, CreatedAt: time.Now()}
	req := request()
	req.AgentID, req.Credential = "", secret
	var out []Curve
	if r.stores[Memory] {
		st := memory.New()
		defer st.Close()
		if err := st.CreateKey(ctx, checked); err != nil {
			return out, err
		}
		c, err := r.keyCurve(ctx, Memory, st, req, func(from, to int) error {
			for i := from; i < to; i++ {
				if err := st.CreateKey(ctx, fillerKey(i)); err != nil {
					return err
				}
			}
			return nil
		})
		out = append(out, c)
		if err != nil {
			return out, err
		}
	}
	if r.stores[SQLite] {
		path := filepath.Join(r.tmp, "keys.db")
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return out, err
		}
		defer st.Close()
		if err := st.CreateKey(ctx, checked); err != nil {
			return out, err
		}
		bulk, err := openSQLiteBulk(path)
		if err != nil {
			return out, err
		}
		defer bulk.Close()
		c, err := r.keyCurve(ctx, SQLite, st, req, func(from, to int) error { return bulk.keys(ctx, from, to) })
		out = append(out, c)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// fillerKey is key i of agent-i; its hash is not that of any secret
// anyone holds, which the lookup by hash cannot tell.
func fillerKey(i int) store.Key {
	return store.Key{ID: fmt.Sprintf("key_filler%08d", i), Tenant: agenttrust.DefaultTenant, AgentID: fmt.Sprintf("agent-%d", i),
		Hash: sha256.Sum256(fmt.Appendf(nil, "filler-%d", i)), Roles: []string{store.RoleAgent}, CreatedAt: time.Unix(1_700_000_000, int64(i))}
}

// keyCurve grows a store with load(from, to) to each size and measures
// req on a fresh client (so no cache carries over from the size before).
func (r *run) keyCurve(ctx context.Context, series string, st store.Store, req agenttrust.Request, load func(from, to int) error) (Curve, error) {
	c := Curve{Dimension: Keys, Series: series}
	have, spent := 1, time.Duration(0)
	for _, n := range sizes(r.opts.Max) {
		if est, ok := r.budget(c.Points, n); !ok {
			c.Note = r.note(Keys, series, "stopped at %d: loading %d keys would take about %s more (budget %s)", have, n, est.Round(time.Second), r.opts.LoadBudget)
			break
		}
		t0 := time.Now()
		if err := load(have, n); err != nil {
			return c, fmt.Errorf("%s: load %d keys: %w", series, n, err)
		}
		spent += time.Since(t0)
		have = n
		cl, err := agenttrust.New(st, agenttrust.WithPolicy(basePolicy()))
		if err != nil {
			return c, err
		}
		ns, fast, err := measure(ctx, cl, req, r.t)
		cl.Close()
		if err != nil {
			return c, fmt.Errorf("%s, %d keys: %w", series, n, err)
		}
		pt := Point{N: n, NsPerOp: ns, Fastest: fast, Load: spent}
		r.row(Keys, series, pt)
		c.Points = append(c.Points, pt)
	}
	return c, nil
}

// depth: a token delegated d times, d = 1, 2, 4, ... up to the format's
// maximum, checked with the verified-token cache (the default) and
// without it.
func (r *run) depth(ctx context.Context) ([]Curve, error) {
	var out []Curve
	for _, cached := range []bool{true, false} {
		series := Memory
		var opts []agenttrust.Option
		if !cached {
			series = Memory + "-nocache"
			opts = append(opts, agenttrust.WithTokens(agenttrust.TokenConfig{NoCache: true}))
		}
		c := Curve{Dimension: Depth, Series: series}
		for d := 1; ; d *= 2 {
			ns, fast, err := r.depthPoint(ctx, d, opts)
			if err != nil {
				if d > 1 && isTooDeep(err) {
					c.Note = r.note(Depth, series, "the token format stops at %d hops (%d refused: %v)", d/2, d, err)
					break
				}
				out = append(out, c)
				return out, fmt.Errorf("%d hops: %w", d, err)
			}
			pt := Point{N: d, NsPerOp: ns, Fastest: fast}
			r.row(Depth, series, pt)
			c.Points = append(c.Points, pt)
		}
		out = append(out, c)
	}
	return out, nil
}

// errTooDeep marks a delegation the format refused.
type errTooDeep struct{ err error }

func (e errTooDeep) Error() string { return e.err.Error() }

func isTooDeep(err error) bool { _, ok := err.(errTooDeep); return ok }

func (r *run) depthPoint(ctx context.Context, d int, opts []agenttrust.Option) (median, fastest float64, err error) {
	st := memory.New()
	defer st.Close()
	cl, err := agenttrust.New(st, append([]agenttrust.Option{agenttrust.WithPolicy(basePolicy())}, opts...)...)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	secret, _, err := cl.CreateKey(ctx, agenttrust.KeySpec{AgentID: "a1"})
	if err != nil {
		return 0, 0, err
	}
	tok, err := cl.Exchange(ctx, secret)
	if err != nil {
		return 0, 0, err
	}
	for range d {
		if tok, _, err = cl.Delegate(ctx, tok, 0); err != nil {
			if errors.Is(err, errs.DelegationDepth) {
				return 0, 0, errTooDeep{err}
			}
			return 0, 0, err
		}
	}
	req := request()
	req.AgentID, req.Credential = "", tok
	return measure(ctx, cl, req, r.t)
}
