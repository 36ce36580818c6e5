package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

const tenant = "acme"

const policy = `rules:
  - id: read
    effect: allow
    tools: [docs.read]
  - id: no-delete
    effect: deny
    tools: [docs.delete]
    reason: never
  - id: pay
    effect: needs_approval
    tools: [payments.charge]
    reason: payments need a person
`

// harness is the server under soak and the credentials that drive it.
type harness struct {
	st       *sqlite.Store
	srv      *server.Server
	http     *http.Server
	url      string
	tmp      string // removed by close, when the harness made it
	dir      string // the database's directory, which also holds the answered-decision logs
	admin    *remote.Client
	approver *remote.Client
	agents   []*remote.Client // one per worker, each with its own agent key
	keys     []string         // the agents' key secrets
	keysMade int              // keys made through the library, each an operator record
}

func start(ctx context.Context, cfg config) (_ *harness, err error) {
	h := &harness{}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	dir := cfg.dir
	if dir == "" {
		if h.tmp, err = os.MkdirTemp("", "agenttrust-soak-"); err != nil {
			return nil, err
		}
		dir = h.tmp
	}
	h.dir = dir
	if h.st, err = sqlite.Open(ctx, filepath.Join(dir, "soak.db")); err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	crand.Read(secret)
	auditKey, err := agenttrust.NewAuditKey(secret)
	if err != nil {
		return nil, err
	}
	// A small token cache fills during the warm-up, so what the heap
	// does afterwards is the server's, not a cache filling to its bound.
	small := agenttrust.WithTokens(agenttrust.TokenConfig{CacheEntries: 256, CacheBytes: 1 << 20})
	if h.srv, err = server.New(h.st, server.WithNodeName("soak"), server.WithSystemTenant("ops"),
		server.WithAuditKey(auditKey), server.WithClientOptions(small)); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h.url = "http://" + l.Addr().String()
	h.http = &http.Server{Handler: h.srv, ReadHeaderTimeout: 10 * time.Second}
	go h.http.Serve(l)

	c, err := h.srv.Client(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if _, err := c.SavePolicy(ctx, []byte(policy), "yaml", 0); err != nil {
		return nil, err
	}
	client := func(agent, role string) (*remote.Client, string, error) {
		secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: agent, Roles: []string{role}})
		if err != nil {
			return nil, "", err
		}
		h.keysMade++
		// No retries: a retried check is a second decision, and the
		// soak counts decisions exactly.
		rc, err := remote.New(h.url, secret, remote.WithInsecureHTTP(), remote.WithRetries(0), remote.WithTimeout(30*time.Second))
		return rc, secret, err
	}
	if h.admin, _, err = client("alice", store.RoleAdmin); err != nil {
		return nil, err
	}
	if h.approver, _, err = client("carol", store.RoleApprover); err != nil {
		return nil, err
	}
	for i := range cfg.workers {
		rc, secret, err := client(fmt.Sprintf("bot-%d", i), store.RoleAgent)
		if err != nil {
			return nil, err
		}
		h.agents, h.keys = append(h.agents, rc), append(h.keys, secret)
	}
	return h, nil
}

func (h *harness) close() {
	for _, c := range append([]*remote.Client{h.admin, h.approver}, h.agents...) {
		if c != nil {
			c.Close()
		}
	}
	if h.http != nil {
		h.http.Close()
	}
	if h.srv != nil {
		h.srv.Close()
	}
	if h.st != nil {
		h.st.Close()
	}
	if h.tmp != "" {
		os.RemoveAll(h.tmp)
	}
}

// sample is the process's footprint at one moment, after a collection.
type sample struct {
	heap       uint64
	goroutines int
}

func measure() sample {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return sample{heap: m.HeapInuse, goroutines: runtime.NumGoroutine()}
}

// Effects, as indexes of result.effects.
const (
	effAllow = iota
	effDeny
	effApproval
)

// result is what the workers did and saw.
type result struct {
	effects                                        [3]int
	exchanges, delegations, revocations, approvals int
	denials                                        int // approvals denied
	answered                                       []agenttrust.DecisionID
	warm, end                                      sample
}

func (r *result) checks() int { return r.effects[0] + r.effects[1] + r.effects[2] }

func (r *result) add(o *result) {
	for i := range r.effects {
		r.effects[i] += o.effects[i]
	}
	r.exchanges += o.exchanges
	r.delegations += o.delegations
	r.revocations += o.revocations
	r.approvals += o.approvals
	r.denials += o.denials
	r.answered = append(r.answered, o.answered...)
}

// flat reports whether the heap and the goroutines stayed flat between
// the end of the warm-up and the end of the run. The heap may grow by
// half plus 16 MiB: caches fill up to their bounds after the warm-up,
// and a leak of even a few bytes a decision outgrows that within
// minutes at this rate.
func (r *result) flat() error {
	if r.end.heap > r.warm.heap+r.warm.heap/2+16<<20 {
		return fmt.Errorf("heap grew from %s to %s", mib(r.warm.heap), mib(r.end.heap))
	}
	if r.end.goroutines > r.warm.goroutines+8 {
		return fmt.Errorf("goroutines grew from %d to %d", r.warm.goroutines, r.end.goroutines)
	}
	return nil
}

// drive runs the workers until the duration has passed, sampling the
// footprint once a tenth of it (at most 10 s) has warmed the server up.
func (h *harness) drive(ctx context.Context, cfg config) (*result, error) {
	// Workers stop between operations, never during one: a check cut
	// off after the server answered would be a decision the soak cannot
	// count.
	stop := time.Now().Add(cfg.duration)
	var (
		mu    sync.Mutex
		total result
		errs  []error
		wg    sync.WaitGroup
	)
	// Each worker logs the ids of its answered decisions to a file, not
	// to memory: a million ids held in the heap would be the soak's own
	// growth, and hide the server's.
	var logs []string
	for i := range cfg.workers {
		w := &worker{h: h, n: i, agent: h.agents[i], key: h.keys[i],
			rng: rand.New(rand.NewPCG(cfg.seed, uint64(i)))}
		path := filepath.Join(h.dir, fmt.Sprintf("answered-%d.ids", i))
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		logs = append(logs, path)
		w.answered = bufio.NewWriter(f)
		wg.Go(func() {
			err := w.run(ctx, stop)
			if ferr := w.answered.Flush(); err == nil {
				err = ferr
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			mu.Lock()
			defer mu.Unlock()
			total.add(&w.res)
			if err != nil {
				errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
			}
		})
	}
	warmup := min(cfg.duration/10, 10*time.Second)
	time.Sleep(warmup)
	total.warm = measure()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// The clients' idle connections are the server's goroutines too.
	for _, c := range append([]*remote.Client{h.admin, h.approver}, h.agents...) {
		c.Close()
	}
	total.end = measure()
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		for len(data) >= len(agenttrust.DecisionID{}) {
			var id agenttrust.DecisionID
			data = data[copy(id[:], data):]
			total.answered = append(total.answered, id)
		}
		if len(data) != 0 {
			return nil, fmt.Errorf("%s: a truncated id at the end", path)
		}
	}
	return &total, nil
}

// auditReport is what the audit check found.
type auditReport struct{ records, chains, operations int }

// audit waits for the answered decisions to reach the trail, then checks
// that it holds each exactly once, and apart from them exactly the
// operator actions performed (the revocations, approvals, exchanges and
// delegations of the workers, the keys and the policy of the harness),
// each naming who did it, and nothing else; and that every chain verifies.
func (h *harness) audit(ctx context.Context, res *result) (auditReport, error) {
	rc, err := h.freshAdmin()
	if err != nil {
		return auditReport{}, err
	}
	defer rc.Close()
	want := map[string]int{
		"agenttrust.revoke by alice":        res.revocations,
		"agenttrust.approve by carol":       res.approvals,
		"agenttrust.deny_approval by carol": res.denials,
		"agenttrust.create_key by ":         h.keysMade,
		"agenttrust.save_policy by ":        1,
		// The workers' mints, each by the worker agent whose key or
		// token it was made from (counted by tool: workers are not
		// told apart in res).
		"agenttrust.exchange by a worker": res.exchanges,
		"agenttrust.delegate by a worker": res.delegations,
	}
	wantOps := 0
	for _, n := range want {
		wantOps += n
	}
	var ids []agenttrust.DecisionID
	var ops map[string]int
	var nOps int
	chains := map[string]bool{}
	// The trail is written off the checks' path: give it a moment.
	for deadline := time.Now().Add(30 * time.Second); ; {
		ids, chains, ops, nOps = ids[:0], map[string]bool{}, map[string]int{}, 0
		for q := (&store.AuditQuery{Limit: 1000}); q != nil; {
			recs, next, err := rc.QueryAudit(ctx, *q)
			if err != nil {
				return auditReport{}, err
			}
			for _, r := range recs {
				chains[r.Chain] = true
				if !strings.HasPrefix(r.Tool, "agenttrust.") {
					ids = append(ids, r.ID)
					continue
				}
				nOps++
				if r.Effect != agenttrust.Allow { // an action noted as not performed
					ops[r.Tool+" not performed"]++
					continue
				}
				by := r.AgentID
				if (r.Tool == "agenttrust.exchange" || r.Tool == "agenttrust.delegate") && strings.HasPrefix(by, "bot-") {
					by = "a worker"
				}
				ops[r.Tool+" by "+by]++
			}
			q = next
		}
		if len(ids) >= len(res.answered) && nOps >= wantOps || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := sameDecisions(res.answered, ids); err != nil {
		return auditReport{}, err
	}
	if !maps.Equal(ops, want) {
		return auditReport{}, fmt.Errorf("audit: operator records %v, want the actions performed %v", ops, want)
	}
	rep, err := rc.VerifyAudit(ctx, "")
	if err != nil {
		return auditReport{}, err
	}
	for _, ch := range rep.Chains {
		if !ch.OK {
			return auditReport{}, fmt.Errorf("audit chain %s broken at seq %d: %s", ch.Chain, ch.ProblemSeq, ch.Problem)
		}
	}
	if !rep.OK || len(rep.Chains) != len(chains) {
		return auditReport{}, fmt.Errorf("audit verification: ok %v over %d chains, the trail has %d", rep.OK, len(rep.Chains), len(chains))
	}
	return auditReport{records: len(ids) + nOps, chains: len(chains), operations: nOps}, nil
}

// freshAdmin is an admin client for after the run, whose own clients are
// closed by then.
func (h *harness) freshAdmin() (*remote.Client, error) {
	c, err := h.srv.Client(context.Background(), tenant)
	if err != nil {
		return nil, err
	}
	secret, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "auditor", Roles: []string{store.RoleAdmin}})
	if err != nil {
		return nil, err
	}
	h.keysMade++
	// Verifying every chain reads the whole trail: minutes of traffic.
	return remote.New(h.url, secret, remote.WithInsecureHTTP(), remote.WithRetries(0), remote.WithTimeout(10*time.Minute))
}

// sameDecisions reports how the trail's decision ids differ from the
// answered ones: an answered decision missing, one recorded twice, or a
// record of a decision nobody was given.
func sameDecisions(answered, trail []agenttrust.DecisionID) error {
	seen := make(map[agenttrust.DecisionID]int, len(trail))
	for _, id := range trail {
		seen[id]++
	}
	var missing, twice, extra int
	var example agenttrust.DecisionID
	for _, id := range answered {
		switch seen[id] {
		case 0:
			missing++
			example = id
		case 1:
		default:
			twice++
			example = id
		}
		delete(seen, id)
	}
	extra = len(seen)
	for id := range seen {
		example = id
		break
	}
	if missing+twice+extra > 0 {
		return fmt.Errorf("audit: %d answered decisions, %d records: %d missing, %d recorded twice, %d never answered (e.g. %s)",
			len(answered), len(trail), missing, twice, extra, example)
	}
	return nil
}
