package agenttrust

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
)

// maxBreakers bounds the agents the breaker counts (see maxLimiters).
const maxBreakers = 1 << 14

// BreakerConfig configures the runaway breaker, which suspends an agent
// that is denied too often or calls too fast: the signature of a loop gone
// wrong or an injected instruction being retried. A zero field disables
// that trigger. It is a plain value, safe to share.
type BreakerConfig struct {
	MaxDenials   int           // denials within DenialWindow that trip it
	DenialWindow time.Duration // default one minute
	MaxCalls     int           // checks within CallWindow that trip it
	CallWindow   time.Duration // default one second
}

// breaker counts per agent in sliding windows (see window). It counts at most
// maxBreakers agents: when the table is full, agents idle past both
// windows are dropped (at most once per sweepEvery), and if none is, one
// counter picked at random makes room.
type breaker struct {
	cfg    BreakerConfig
	mu     sync.Mutex
	agents map[string]*breakerCount
	swept  time.Time
}

type breakerCount struct {
	denies, calls window
	// held is set when the breaker trips on the agent: the time its
	// suspension was in force (heldOpen until then). A check that began
	// at or before it may have passed the revocation phase before the
	// suspension, and is denied here rather than counted afresh, which
	// would let a burst in flight through m calls at a time.
	held time.Time
}

// breakerSlots is how many slots a breaker window is counted in.
const breakerSlots = 16

// window counts an agent's events of one trigger in slots of a
// sixteenth of the window (rounded up), keeping the latest
// breakerSlots+1 slots and the time of the latest event of each. Their
// sum, less the slots whose latest event is already past the window,
// holds every event within the window however it falls across slot
// edges, so a run of events within any window trips the breaker (fixed
// windows let one through twice over, at the end of a window and the
// start of the next). It may count too many only in the one slot that
// straddles the window's start. Memory is fixed whatever the thresholds.
type window struct {
	last int64 // the slot of the latest event
	n    [breakerSlots + 1]int32
	at   [breakerSlots + 1]int64 // Unix nanoseconds of each slot's latest event
}

// slot returns the slot of now in windows of w.
func slot(now time.Time, w time.Duration) int64 {
	return now.UnixNano() / int64((w+breakerSlots-1)/breakerSlots)
}

// add counts one event at now in windows of w and returns the events
// within the window. A time before the latest event's slot (the clock
// went back) counts in that slot: never fewer.
func (c *window) add(now time.Time, w time.Duration) int {
	if s := slot(now, w); s > c.last {
		if s-c.last > breakerSlots {
			clear(c.n[:])
		} else {
			for i := c.last + 1; i <= s; i++ {
				c.n[uint64(i)%uint64(len(c.n))] = 0
			}
		}
		c.last = s
	}
	i := uint64(c.last) % uint64(len(c.n))
	c.n[i]++
	c.at[i] = max(c.at[i], now.UnixNano())
	return c.count(now, w)
}

// count returns the events that may be within the window of w at now.
func (c *window) count(now time.Time, w time.Duration) int {
	if c.last < slot(now, w)-breakerSlots {
		return 0
	}
	past := now.UnixNano() - int64(w) // an event at or before it is out
	total := 0
	for i, n := range c.n {
		if n > 0 && c.at[i] > past {
			total += int(n)
		}
	}
	return total
}

// heldOpen marks a trip whose suspension is not yet written.
var heldOpen = time.Unix(1<<62, 0)

// reasonBreakerHeld is the deny of a check in flight when the breaker
// tripped on its agent.
const reasonBreakerHeld = "runaway breaker tripped; agent suspended"

func newBreaker(cfg BreakerConfig) (*breaker, error) {
	if cfg.MaxDenials < 0 || cfg.MaxCalls < 0 || cfg.DenialWindow < 0 || cfg.CallWindow < 0 {
		return nil, fmt.Errorf("%w: negative breaker setting", ErrInvalidConfig)
	}
	if cfg.MaxDenials == 0 && cfg.MaxCalls == 0 {
		return nil, nil
	}
	if cfg.DenialWindow == 0 {
		cfg.DenialWindow = time.Minute
	}
	if cfg.CallWindow == 0 {
		cfg.CallWindow = time.Second
	}
	return &breaker{cfg: cfg, agents: map[string]*breakerCount{}}, nil
}

// holdsState reports whether a counter still counts at now, within its
// window: the state a new breaker, starting every count at zero, would
// not have.
func (b *breaker) holdsState(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.agents {
		if b.cfg.MaxDenials > 0 && c.denies.count(now, b.cfg.DenialWindow) > 0 ||
			b.cfg.MaxCalls > 0 && c.calls.count(now, b.cfg.CallWindow) > 0 {
			return true
		}
	}
	return false
}

// observe counts one decision for agent, made by a check that began at
// now, and returns a non-empty reason when this decision trips the
// breaker (tripped) or the check began before a trip's suspension was in
// force (not tripped: it is denied, and counts for nothing). Counters
// reset after a trip. With call false it counts a denial of a check
// already counted as a call (one the budget phase refused after the
// breaker saw it allowed).
func (b *breaker) observe(agent string, now time.Time, call, denied bool) (why string, tripped bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.agents[agent]
	if c != nil && !c.held.IsZero() && !now.After(c.held) {
		return reasonBreakerHeld, false
	}
	if c == nil {
		if len(b.agents) >= maxBreakers && now.Sub(b.swept) >= sweepEvery {
			b.swept = now
			for a, old := range b.agents {
				// A trip's hold matters to checks in flight when it
				// tripped, long over a minute on.
				if old.calls.count(now, b.cfg.CallWindow) == 0 && old.denies.count(now, b.cfg.DenialWindow) == 0 &&
					old.held.Before(now.Add(-time.Minute)) {
					delete(b.agents, a)
				}
			}
		}
		if len(b.agents) >= maxBreakers {
			for a := range b.agents {
				delete(b.agents, a)
				break
			}
		}
		c = &breakerCount{}
		b.agents[strings.Clone(agent)] = c
	}
	if b.cfg.MaxCalls > 0 && call {
		if c.calls.add(now, b.cfg.CallWindow) > b.cfg.MaxCalls {
			*c = breakerCount{held: heldOpen}
			return fmt.Sprintf("runaway breaker: more than %d calls within %s", b.cfg.MaxCalls, b.cfg.CallWindow), true
		}
	}
	if b.cfg.MaxDenials > 0 && denied {
		if n := c.denies.add(now, b.cfg.DenialWindow); n >= b.cfg.MaxDenials {
			*c = breakerCount{held: heldOpen}
			return fmt.Sprintf("runaway breaker: %d denials within %s", n, b.cfg.DenialWindow), true
		}
	}
	return "", false
}

// settle records that the suspension of a trip on agent is in force (or
// failed) at t: checks that begin after t are the revocation phase's, or,
// when it failed, counted afresh.
func (b *breaker) settle(agent string, t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.agents[agent]; c != nil && c.held == heldOpen {
		c.held = t
	}
}

// release forgets a trip on agent, which an operator resumed.
func (b *breaker) release(agent string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.agents[agent]; c != nil {
		c.held = time.Time{}
	}
}

// trip is the breaker phase, the one place the breaker is fed (when
// there is one): it counts v, a decision of the rules about agent, and
// when that trips the breaker, suspends the agent and returns a deny that
// says so in v's stead.
func (c *Client) trip(ctx context.Context, agent string, now time.Time, v verdict) verdict {
	return c.tripOn(ctx, agent, now, v, true)
}

// tripOn is trip; with call false, v is a deny of a check trip already
// counted (see breaker.observe).
func (c *Client) tripOn(ctx context.Context, agent string, now time.Time, v verdict, call bool) verdict {
	why, tripped := c.breaker.observe(agent, now, call, v.effect == Deny)
	switch {
	case why == "":
		return v
	case !tripped:
		return verdict{done: true, effect: Deny, rule: "agenttrust.breaker", reason: why}
	}
	b := store.Block{Tenant: c.tenant, ID: agent, Kind: store.Suspended, Reason: why, CreatedAt: now}
	// Settled whatever happens: a panic of the store (or clock) must not
	// leave the agent held for ever, a trip whose suspension never comes.
	err := recovered("suspend", func() error {
		if err := c.store.Suspend(context.WithoutCancel(ctx), b); err != nil {
			return err
		}
		c.settleView(ctx, agent, b)
		return nil
	})
	settled, _ := c.now()
	c.breaker.settle(agent, settled)
	v = verdict{done: true, effect: Deny, rule: "agenttrust.breaker", reason: why + "; agent suspended"}
	c.event(ctx, observe.Event{Kind: observe.BreakerTripped, Agent: agent})
	if err != nil {
		// The error to the operator's log only: a store's names its
		// database's user, host and port, and the reason goes to the
		// agent, the audit record and the Observer.
		c.log.Error("agenttrust: runaway breaker could not suspend agent", "agent", agent, "err", err)
		v.reason = why + "; suspending the agent failed (" + reasonStoreDown + ")"
	}
	return v
}

// deniedBy returns the agent that made req, a request refused before
// the rules (as invalid, or by its credential's own caveats), for the
// breaker to count: the agent its credential proves, verified as
// Authenticate does (live, of this tenant, every caveat on who and when
// holding, nothing revoked or suspended: no forged, dead or foreign
// credential counts for anyone), or, without a credential, the agent the
// request names when that is a valid name; "" when there is none.
func (c *Client) deniedBy(ctx context.Context, req *Request, now time.Time) string {
	if req.Credential == "" {
		if validActorName("agent id", req.AgentID) != nil {
			return ""
		}
		return req.AgentID
	}
	var cr credential
	env := requestEnv(c.tenant, &Request{RemoteAddr: req.RemoteAddr}, nil, nil, now)
	u := credentialUse{kinds: anyCredential, addr: req.RemoteAddr, env: &env, blocks: blocksAsCheck}
	if _, err := c.verify(ctx, req.Credential, now, &u, &cr); err != nil {
		return ""
	}
	return cr.agent
}
