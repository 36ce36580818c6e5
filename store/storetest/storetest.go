package storetest

import (
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

// Option configures Run.
type Option func(*config)

type config struct {
	reopen func(t *testing.T, s store.Store) store.Store
}

// WithReopen gives Run a way to close s and open the same data again, for
// backends whose data outlives a Store value (SQLite, PostgreSQL, a remote
// store). reopen must close s itself. Without it the cases that need it are
// skipped.
func WithReopen(reopen func(t *testing.T, s store.Store) store.Store) Option {
	return func(c *config) { c.reopen = reopen }
}

// Run runs every conformance case as a subtest of t, each on a fresh store
// from newStore. Run closes each store when its case ends; newStore may
// register more cleanup with t.Cleanup. The Watch cases run when the store
// implements store.Watcher and are skipped otherwise, the ClusterLimits
// cases when it implements store.ClusterLimiter. Run fails t when no case ran (none
// matched -run, or all were skipped): a backend that cannot run, such as a
// database that is not reachable, should skip t before calling Run.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) {
	t.Helper()
	if newStore == nil {
		t.Fatal("storetest: newStore is nil")
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	ran := 0
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					if c.reopen && cfg.reopen == nil {
						t.Skip("storetest: needs WithReopen")
					}
					defer func() {
						if !t.Skipped() {
							ran++
						}
					}()
					e := &env{cfg: &cfg}
					e.s = e.open(t, newStore(t))
					c.run(t, e)
				})
			}
		})
	}
	if ran == 0 {
		t.Fatal("storetest: no case ran")
	}
}

// group is a named set of cases, run as one subtest level.
type group struct {
	name  string
	cases []testCase
}

// testCase is one conformance case. A case runs on e.s, a fresh store.
type testCase struct {
	name   string
	reopen bool // needs WithReopen
	run    func(t *testing.T, e *env)
}

func groups() []group {
	return []group{
		{"Revocations", revocationCases()},
		{"Suspensions", suspensionCases()},
		{"Approvals", approvalCases()},
		{"Policies", policyCases()},
		{"Audit", auditCases()},
		{"Keys", keyCases()},
		{"Hops", hopCases()},
		{"Invalid", invalidCases()},
		{"Copies", copyCases()},
		{"Lifecycle", lifecycleCases()},
		{"Concurrency", concurrencyCases()},
		{"Reopen", reopenCases()},
		{"Watch", watchCases()},
		{"ClusterLimits", rateCases()},
		{"Grants", grantCases()},
		{"Budgets", budgetCases()},
		{"Spelling", spellingCases()},
	}
}

// env is the store a case works on.
type env struct {
	cfg *config
	s   store.Store
}

func (e *env) open(t *testing.T, s store.Store) store.Store {
	t.Helper()
	if s == nil {
		t.Fatal("storetest: newStore returned nil")
	}
	t.Cleanup(func() { _ = s.Close() }) // it may be closed already
	return s
}

// reopen closes e.s and opens its data again.
func (e *env) reopen(t *testing.T) {
	t.Helper()
	e.s = e.open(t, e.cfg.reopen(t, e.s))
}
