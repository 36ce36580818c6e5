package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// The Budgets cases run on stores that implement store.Budgeter and are
// skipped on the others.

func budgetCases() []testCase {
	return []testCase{
		{name: "SpendAndRead", run: testBudgetSpendAndRead},
		{name: "Exhausted", run: testBudgetExhausted},
		{name: "CarveBoundsChild", run: testBudgetCarveBoundsChild},
		{name: "CarveRefused", run: testBudgetCarveRefused},
		{name: "AllOrNothing", run: testBudgetAllOrNothing},
		{name: "Mismatch", run: testBudgetMismatch},
		{name: "SealedMakesNoRow", run: testBudgetSealed},
		{name: "ReleaseReturnsCarveOut", run: testBudgetRelease},
		{name: "ReleaseSubtree", run: testBudgetReleaseSubtree},
		{name: "ExpiredReclaimed", run: testBudgetExpired},
		{name: "NamesApart", run: testBudgetNamesApart},
		{name: "TenantsApart", run: testBudgetTenants},
		{name: "Invalid", run: testBudgetInvalid},
		{name: "ConcurrentTree", run: testBudgetConcurrentTree},
		{name: "ConcurrentRelease", run: testBudgetConcurrentRelease},
		{name: "Closed", run: testBudgetClosed},
	}
}

// budgeter returns e.s as a Budgeter, or skips t.
func budgeter(t *testing.T, e *env) store.Budgeter {
	t.Helper()
	b, isBudgeter := e.s.(store.Budgeter)
	if !isBudgeter {
		t.Skip("storetest: the store is not a store.Budgeter")
	}
	return b
}

// node is a chain node declaring budgets as name, limit pairs.
func node(id string, budgets ...any) store.BudgetNode {
	n := store.BudgetNode{ID: id}
	for i := 0; i < len(budgets); i += 2 {
		n.Budgets = append(n.Budgets, store.BudgetLimit{Name: budgets[i].(string), Limit: int64(budgets[i+1].(int))})
	}
	return n
}

// spend is a spend of acme over path at at(0), of amounts as name,
// amount pairs.
func spend(path []store.BudgetNode, amounts ...any) store.BudgetSpend {
	s := store.BudgetSpend{Tenant: acme, Path: path, Now: at(0)}
	for i := 0; i < len(amounts); i += 2 {
		s.Amounts = append(s.Amounts, store.BudgetAmount{Name: amounts[i].(string), Amount: int64(amounts[i+1].(int))})
	}
	return s
}

func mustSpend(t *testing.T, b store.Budgeter, s store.BudgetSpend) {
	t.Helper()
	ref, err := b.SpendBudget(t.Context(), s)
	ok(t, err, "SpendBudget")
	if ref.Refused() {
		t.Fatalf("SpendBudget refused: %+v", ref)
	}
}

func wantRefusal(t *testing.T, b store.Budgeter, s store.BudgetSpend, node, name string, reason store.BudgetReason) {
	t.Helper()
	ref, err := b.SpendBudget(t.Context(), s)
	ok(t, err, "SpendBudget")
	if want := (store.BudgetRefusal{Node: node, Name: name, Reason: reason}); ref != want {
		t.Fatalf("SpendBudget = %+v, want %+v", ref, want)
	}
}

// row returns node's row of name, failing t when there is none.
func row(t *testing.T, b store.Budgeter, tenant, nodeID, name string) store.BudgetRow {
	t.Helper()
	rows, err := b.Budgets(t.Context(), tenant, nodeID)
	ok(t, err, "Budgets")
	for _, r := range rows {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("node %s has no budget %q (rows: %+v)", nodeID, name, rows)
	return store.BudgetRow{}
}

func wantRemaining(t *testing.T, b store.Budgeter, nodeID, name string, want int64) {
	t.Helper()
	r := row(t, b, acme, nodeID, name)
	if got := r.Remaining(); got != want {
		t.Errorf("%s/%s remaining %d, want %d (row %+v)", nodeID, name, got, want, r)
	}
}

func testBudgetSpendAndRead(t *testing.T, e *env) {
	b := budgeter(t, e)
	path := []store.BudgetNode{node("key_1", "calls", 10)}
	path[0].ExpiresAt = at(3600)
	mustSpend(t, b, spend(path)) // materialise only
	wantRemaining(t, b, "key_1", "calls", 10)
	mustSpend(t, b, spend(path, "calls", 3))
	r := row(t, b, acme, "key_1", "calls")
	want := store.BudgetRow{Tenant: acme, Node: "key_1", Name: "calls", Path: "/key_1/", Limit: 10, Spent: 3, CreatedAt: at(0), ExpiresAt: at(3600)}
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	if r != want {
		t.Errorf("row = %+v\nwant %+v", r, want)
	}
	rows, err := b.Budgets(t.Context(), acme, "key_none")
	ok(t, err, "Budgets of a node without rows")
	if len(rows) != 0 {
		t.Errorf("Budgets of a node without rows = %+v", rows)
	}
}

func testBudgetExhausted(t *testing.T, e *env) {
	b := budgeter(t, e)
	path := []store.BudgetNode{node("key_1", "calls", 3)}
	for range 3 {
		mustSpend(t, b, spend(path, "calls", 1))
	}
	wantRefusal(t, b, spend(path, "calls", 1), "key_1", "calls", store.BudgetExhausted)
	wantRemaining(t, b, "key_1", "calls", 0)
	mustSpend(t, b, spend(path, "calls", 0)) // nothing fits in nothing
}

// A child spends only its carve-out; the parent keeps the rest for
// itself and its other children, and sees every spend of the child.
func testBudgetCarveBoundsChild(t *testing.T, e *env) {
	b := budgeter(t, e)
	path := []store.BudgetNode{node("key_1", "usd", 100), node("tok_1"), node("hop_1", "usd", 30)}
	mustSpend(t, b, spend(path, "usd", 20))
	wantRemaining(t, b, "key_1", "usd", 70)
	wantRemaining(t, b, "hop_1", "usd", 10)
	wantRefusal(t, b, spend(path, "usd", 11), "hop_1", "usd", store.BudgetExhausted)
	mustSpend(t, b, spend(path, "usd", 10))
	if r := row(t, b, acme, "key_1", "usd"); r.Spent != 30 || r.Carved != 30 || r.CarvedSpent != 30 {
		t.Errorf("parent row %+v: want spent 30, carved 30, carved spent 30", r)
	}
	// The parent spends its own 70, and no more.
	mustSpend(t, b, spend(path[:1], "usd", 70))
	wantRefusal(t, b, spend(path[:1], "usd", 1), "key_1", "usd", store.BudgetExhausted)
}

func testBudgetCarveRefused(t *testing.T, e *env) {
	b := budgeter(t, e)
	parent := []store.BudgetNode{node("key_1", "calls", 10)}
	mustSpend(t, b, spend(parent, "calls", 4))
	greedy := append(parent, node("hop_1", "calls", 7))
	wantRefusal(t, b, spend(greedy), "key_1", "calls", store.BudgetCarve)
	rows, err := b.Budgets(t.Context(), acme, "hop_1")
	ok(t, err, "Budgets")
	if len(rows) != 0 {
		t.Errorf("a refused carve left rows: %+v", rows)
	}
	wantRemaining(t, b, "key_1", "calls", 6)
	mustSpend(t, b, spend(append(parent, node("hop_2", "calls", 6))))
	wantRemaining(t, b, "key_1", "calls", 0)
	// A grandchild carves from its nearest holder, within the child's room.
	deep := append(parent, node("hop_2", "calls", 6), node("hop_3", "calls", 7))
	wantRefusal(t, b, spend(deep), "hop_2", "calls", store.BudgetCarve)
}

// One refusal anywhere writes nothing: not the other names' spends, not
// the new rows.
func testBudgetAllOrNothing(t *testing.T, e *env) {
	b := budgeter(t, e)
	path := []store.BudgetNode{node("key_1", "calls", 10, "usd", 5), node("hop_1", "calls", 5)}
	mustSpend(t, b, spend(path[:1]))
	wantRefusal(t, b, spend(path, "calls", 1, "usd", 6), "key_1", "usd", store.BudgetExhausted)
	if r := row(t, b, acme, "key_1", "calls"); r.Spent != 0 || r.Carved != 0 {
		t.Errorf("a refused spend changed another budget: %+v", r)
	}
	rows, err := b.Budgets(t.Context(), acme, "hop_1")
	ok(t, err, "Budgets")
	if len(rows) != 0 {
		t.Errorf("a refused spend materialised a row: %+v", rows)
	}
}

// A chain that declares a row otherwise than it was made (a larger limit:
// an attempt to widen) is refused.
func testBudgetMismatch(t *testing.T, e *env) {
	b := budgeter(t, e)
	mustSpend(t, b, spend([]store.BudgetNode{node("key_1", "calls", 10), node("hop_1", "calls", 2)}))
	wantRefusal(t, b, spend([]store.BudgetNode{node("key_1", "calls", 10), node("hop_1", "calls", 9)}, "calls", 1), "hop_1", "calls", store.BudgetMismatch)
	wantRefusal(t, b, spend([]store.BudgetNode{node("key_1", "calls", 1000)}, "calls", 1), "key_1", "calls", store.BudgetMismatch)
	// The same hop under another parent.
	wantRefusal(t, b, spend([]store.BudgetNode{node("key_2", "calls", 10), node("hop_1", "calls", 2)}), "hop_1", "calls", store.BudgetMismatch)
	wantRemaining(t, b, "key_1", "calls", 8)
}

func testBudgetRelease(t *testing.T, e *env) {
	b := budgeter(t, e)
	path := []store.BudgetNode{node("key_1", "calls", 10), node("tok_1"), node("hop_1", "calls", 6)}
	mustSpend(t, b, spend(path, "calls", 2))
	wantRemaining(t, b, "key_1", "calls", 4)
	n, err := b.ReleaseBudget(t.Context(), acme, "hop_1")
	ok(t, err, "ReleaseBudget")
	if n != 1 {
		t.Errorf("ReleaseBudget released %d rows, want 1", n)
	}
	wantRemaining(t, b, "key_1", "calls", 8) // the 4 unspent come back; the 2 spent stay spent
	if r := row(t, b, acme, "hop_1", "calls"); !r.Released {
		t.Errorf("released row %+v", r)
	}
	// Replaying the released chain spends nothing.
	wantRefusal(t, b, spend(path, "calls", 1), "hop_1", "calls", store.BudgetReleased)
	wantRefusal(t, b, spend(append(path, node("hop_2", "calls", 1))), "hop_1", "calls", store.BudgetReleased)
	wantRemaining(t, b, "key_1", "calls", 8)
	// Releasing again returns nothing twice.
	n, err = b.ReleaseBudget(t.Context(), acme, "hop_1")
	ok(t, err, "ReleaseBudget again")
	if n != 0 {
		t.Errorf("second ReleaseBudget released %d rows", n)
	}
	wantRemaining(t, b, "key_1", "calls", 8)
	n, err = b.ReleaseBudget(t.Context(), acme, "hop_unknown")
	ok(t, err, "ReleaseBudget of an unknown id")
	if n != 0 {
		t.Errorf("ReleaseBudget of an unknown id released %d", n)
	}
}

// Releasing a token, which holds no budget, releases the rows below it:
// their carve-outs go back to the key above it.
func testBudgetReleaseSubtree(t *testing.T, e *env) {
	b := budgeter(t, e)
	a := []store.BudgetNode{node("key_1", "calls", 100), node("tok_1"), node("hop_1", "calls", 40), node("hop_2", "calls", 10)}
	other := []store.BudgetNode{node("key_1", "calls", 100), node("tok_2"), node("hop_3", "calls", 20)}
	mustSpend(t, b, spend(a, "calls", 5))
	mustSpend(t, b, spend(other, "calls", 1))
	wantRemaining(t, b, "key_1", "calls", 40)
	n, err := b.ReleaseBudget(t.Context(), acme, "tok_1")
	ok(t, err, "ReleaseBudget")
	if n != 2 {
		t.Errorf("ReleaseBudget released %d rows, want 2", n)
	}
	wantRemaining(t, b, "key_1", "calls", 75) // 100 - 5 spent - 20 carved for hop_3
	wantRemaining(t, b, "hop_3", "calls", 19)
	wantRefusal(t, b, spend(a[:3], "calls", 1), "hop_1", "calls", store.BudgetReleased)
}

func testBudgetExpired(t *testing.T, e *env) {
	b := budgeter(t, e)
	child := []store.BudgetNode{node("key_1", "calls", 10), node("hop_1", "calls", 8)}
	child[1].ExpiresAt = at(60)
	mustSpend(t, b, spend(child, "calls", 3))
	wantRemaining(t, b, "key_1", "calls", 2)
	later := spend(child, "calls", 1)
	later.Now = at(60)
	wantRefusal(t, b, later, "hop_1", "calls", store.BudgetReleased)
	// A sibling that needs more than is left reclaims the expired child's
	// unspent 5 first.
	sib := spend([]store.BudgetNode{node("key_1", "calls", 10), node("hop_2", "calls", 7)})
	sib.Now = at(61)
	mustSpend(t, b, sib)
	wantRemaining(t, b, "key_1", "calls", 0)
	if r := row(t, b, acme, "hop_1", "calls"); !r.Released {
		t.Errorf("expired child not released: %+v", r)
	}
	// Before expiry nothing is reclaimed.
	b2 := []store.BudgetNode{node("key_2", "calls", 10), node("hop_4", "calls", 8)}
	b2[1].ExpiresAt = at(60)
	mustSpend(t, b, spend(b2))
	wantRefusal(t, b, spend([]store.BudgetNode{node("key_2", "calls", 10), node("hop_5", "calls", 3)}), "key_2", "calls", store.BudgetCarve)
}

// Two names never mix: a spend under one leaves the other whole, and a
// child carves only from a parent budget of its own name.
func testBudgetNamesApart(t *testing.T, e *env) {
	b := budgeter(t, e)
	path := []store.BudgetNode{node("key_1", "attr.amount USD", 50, "attr.amount EUR", 50), node("hop_1", "attr.amount EUR", 20)}
	mustSpend(t, b, spend(path, "attr.amount USD", 50))
	wantRemaining(t, b, "key_1", "attr.amount USD", 0)
	wantRemaining(t, b, "key_1", "attr.amount EUR", 30)
	mustSpend(t, b, spend(path, "attr.amount EUR", 20))
	wantRefusal(t, b, spend(path, "attr.amount USD", 1), "key_1", "attr.amount USD", store.BudgetExhausted)
}

func testBudgetTenants(t *testing.T, e *env) {
	b := budgeter(t, e)
	path := []store.BudgetNode{node("key_1", "calls", 1)}
	mustSpend(t, b, spend(path, "calls", 1))
	other := spend([]store.BudgetNode{node("key_1", "calls", 5)}, "calls", 5)
	other.Tenant = "globex"
	mustSpend(t, b, other)
	if r := row(t, b, "globex", "key_1", "calls"); r.Spent != 5 {
		t.Errorf("globex row %+v", r)
	}
	wantRemaining(t, b, "key_1", "calls", 0)
	n, err := b.ReleaseBudget(t.Context(), "globex", "key_1")
	ok(t, err, "ReleaseBudget")
	if n != 1 || row(t, b, acme, "key_1", "calls").Released {
		t.Errorf("a release in globex released %d rows, or acme's", n)
	}
}

func testBudgetInvalid(t *testing.T, e *env) {
	b := budgeter(t, e)
	good := func() store.BudgetSpend { return spend([]store.BudgetNode{node("key_1", "calls", 10)}, "calls", 1) }
	for name, mod := range map[string]func(*store.BudgetSpend){
		"empty path":        func(s *store.BudgetSpend) { s.Path = nil },
		"negative amount":   func(s *store.BudgetSpend) { s.Amounts[0].Amount = -1 },
		"huge amount":       func(s *store.BudgetSpend) { s.Amounts[0].Amount = store.MaxBudget + 1 },
		"negative limit":    func(s *store.BudgetSpend) { s.Path[0].Budgets[0].Limit = -5 },
		"huge limit":        func(s *store.BudgetSpend) { s.Path[0].Budgets[0].Limit = 1 << 62 },
		"unheld amount":     func(s *store.BudgetSpend) { s.Amounts[0].Name = "usd" },
		"repeated amount":   func(s *store.BudgetSpend) { s.Amounts = append(s.Amounts, s.Amounts[0]) },
		"repeated budget":   func(s *store.BudgetSpend) { s.Path[0].Budgets = append(s.Path[0].Budgets, s.Path[0].Budgets[0]) },
		"repeated node":     func(s *store.BudgetSpend) { s.Path = append(s.Path, s.Path[0]) },
		"slash in id":       func(s *store.BudgetSpend) { s.Path[0].ID = "key/1" },
		"empty id":          func(s *store.BudgetSpend) { s.Path[0].ID = "" },
		"NUL in name":       func(s *store.BudgetSpend) { s.Path[0].Budgets[0].Name = "ca\x00lls" },
		"empty name":        func(s *store.BudgetSpend) { s.Path[0].Budgets[0].Name = "" },
		"now before 1970":   func(s *store.BudgetSpend) { s.Now = time.Unix(-1, 0) },
		"tenant not UTF-8":  func(s *store.BudgetSpend) { s.Tenant = "\xff" },
		"path too deep":     func(s *store.BudgetSpend) { s.Path = deepPath(store.MaxBudgetPath + 1) },
		"too many amounts":  func(s *store.BudgetSpend) { s.Amounts = make([]store.BudgetAmount, store.MaxBudgetNames+1) },
		"name too long":     func(s *store.BudgetSpend) { s.Path[0].Budgets[0].Name = string(make([]byte, store.MaxBudgetText+1)) },
		"too many budgets":  func(s *store.BudgetSpend) { s.Path[0].Budgets = manyBudgets(store.MaxBudgetNames + 1) },
		"limit past int64":  func(s *store.BudgetSpend) { s.Path[0].Budgets[0].Limit = -1 << 63 },
		"amount past int64": func(s *store.BudgetSpend) { s.Amounts[0].Amount = -1 << 63 },
	} {
		s := good()
		mod(&s)
		_, err := b.SpendBudget(t.Context(), s)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: SpendBudget = %v, want ErrInvalid", name, err)
		}
	}
	rows, err := b.Budgets(t.Context(), acme, "key_1")
	ok(t, err, "Budgets")
	if len(rows) != 0 {
		t.Errorf("invalid spends left rows: %+v", rows)
	}
}

func deepPath(n int) []store.BudgetNode {
	p := make([]store.BudgetNode, n)
	for i := range p {
		p[i] = node(fmt.Sprint("n", i), "calls", 1)
	}
	return p
}

func manyBudgets(n int) []store.BudgetLimit {
	bs := make([]store.BudgetLimit, n)
	for i := range bs {
		bs[i] = store.BudgetLimit{Name: fmt.Sprint("b", i), Limit: 1}
	}
	return bs
}

// budgetTree is a tree of depth 4 (root, 2 children, 4 grandchildren, 8
// leaves), each node carving a fixed budget out of its parent, and what
// each node keeps for its own spends.
type budgetTree struct {
	chains map[string][]store.BudgetNode // node id -> its chain
	own    map[string]int64              // node id -> what it may spend itself
	nodes  []string
	leaves []string // the nodes without children
}

func newBudgetTree() *budgetTree {
	tr := &budgetTree{chains: map[string][]store.BudgetNode{}, own: map[string]int64{}}
	limits := []int{500, 200, 90, 40} // by depth
	var add func(id string, depth int, chain []store.BudgetNode)
	add = func(id string, depth int, chain []store.BudgetNode) {
		chain = append(append([]store.BudgetNode(nil), chain...), node(id, "calls", limits[depth]))
		tr.chains[id] = chain
		tr.nodes = append(tr.nodes, id)
		tr.own[id] = int64(limits[depth])
		if depth+1 == len(limits) {
			tr.leaves = append(tr.leaves, id)
			return
		}
		tr.own[id] -= 2 * int64(limits[depth+1])
		for c := range 2 {
			add(fmt.Sprintf("%s.%d", id, c), depth+1, chain)
		}
	}
	add("root", 0, nil)
	return tr
}

// The bar of hierarchical budgets: 1,000 parallel spends over a tree of
// depth 4, every node spending and carving at once (nothing is
// materialised beforehand), never overspend any node. Each node's own
// room is fixed by the carve-outs, so exactly min(attempts, room) of the
// spends at each node pass.
//
// A node is given no more spends than its own room unless it is a leaf:
// carving is first come, first served (CarveRefused), so a parent's
// spends beyond its room that ran before a child's first carve would
// leave the child short, and the counts would depend on the order the
// spends happen to run in (about one run in a hundred refused a whole
// leaf). The leaves take the rest, far more than their room, so the
// spends that exhaust a node still race.
func testBudgetConcurrentTree(t *testing.T, e *env) {
	b := budgeter(t, e)
	tr := newBudgetTree()
	const spends = 1000
	rng := rand.New(rand.NewPCG(1, 2))
	at := make([]string, spends)
	attempts := map[string]int64{}
	for i := range at {
		id := tr.nodes[rng.IntN(len(tr.nodes))]
		if attempts[id] >= tr.own[id] && !slices.Contains(tr.leaves, id) {
			id = tr.leaves[rng.IntN(len(tr.leaves))]
		}
		at[i] = id
		attempts[id]++
	}
	var passed sync.Map
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range spends {
		wg.Go(func() {
			<-start
			ref, err := b.SpendBudget(t.Context(), spend(tr.chains[at[i]], "calls", 1))
			if err != nil {
				if errs.Add(1) <= 3 {
					t.Errorf("SpendBudget at %s: %v", at[i], err)
				}
				return
			}
			if ref.Refused() {
				if ref.Reason != store.BudgetExhausted || ref.Node != at[i] {
					t.Errorf("spend at %s refused by %+v", at[i], ref)
				}
				return
			}
			n, _ := passed.LoadOrStore(at[i], new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		})
	}
	close(start)
	wg.Wait()
	var total int64
	for _, id := range tr.nodes {
		var got int64
		if n, isSet := passed.Load(id); isSet {
			got = n.(*atomic.Int64).Load()
		}
		total += got
		if want := min(attempts[id], tr.own[id]); got != want {
			t.Errorf("node %s: %d spends passed, want %d (%d attempted, room %d)", id, got, want, attempts[id], tr.own[id])
		}
		r := row(t, b, acme, id, "calls")
		if r.Spent > r.Limit || r.Remaining() < 0 || r.CarvedSpent > r.Carved {
			t.Errorf("node %s overspent: %+v", id, r)
		}
	}
	if r := row(t, b, acme, "root", "calls"); r.Spent != total {
		t.Errorf("root spent %d, but %d spends passed", r.Spent, total)
	}
}

// Spends racing the release of a branch: every spend either lands before
// the release (and stays spent) or is refused after it, and the parent
// ends with exactly its limit less what was spent.
func testBudgetConcurrentRelease(t *testing.T, e *env) {
	b := budgeter(t, e)
	chain := []store.BudgetNode{node("key_1", "calls", 1000), node("tok_1"), node("hop_1", "calls", 600)}
	mustSpend(t, b, spend(chain))
	var passed atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if i == 100 {
				if _, err := b.ReleaseBudget(t.Context(), acme, "tok_1"); err != nil {
					t.Errorf("ReleaseBudget: %v", err)
				}
				return
			}
			ref, err := b.SpendBudget(t.Context(), spend(chain, "calls", 1))
			if err != nil {
				t.Errorf("SpendBudget: %v", err)
				return
			}
			if !ref.Refused() {
				passed.Add(1)
			} else if ref.Reason != store.BudgetReleased {
				t.Errorf("refused: %+v", ref)
			}
		})
	}
	wg.Wait()
	wantRemaining(t, b, "key_1", "calls", 1000-passed.Load())
	if r := row(t, b, acme, "hop_1", "calls"); !r.Released || r.Spent != passed.Load() {
		t.Errorf("hop row %+v, want released with %d spent", r, passed.Load())
	}
}

func testBudgetClosed(t *testing.T, e *env) {
	b := budgeter(t, e)
	ok(t, e.s.Close(), "Close")
	_, err := b.SpendBudget(t.Context(), spend([]store.BudgetNode{node("key_1", "calls", 1)}, "calls", 1))
	isErrOneOf(t, err, "SpendBudget after Close", store.ErrClosed)
	_, err = b.ReleaseBudget(t.Context(), acme, "key_1")
	isErrOneOf(t, err, "ReleaseBudget after Close", store.ErrClosed)
	_, err = b.Budgets(t.Context(), acme, "key_1")
	isErrOneOf(t, err, "Budgets after Close", store.ErrClosed)
}

// A sealed node's rows were made with it: a spend that finds one missing
// refuses (BudgetMismatch) and makes nothing, a found one spends.
func testBudgetSealed(t *testing.T, e *env) {
	b := budgeter(t, e)
	mustSpend(t, b, spend([]store.BudgetNode{node("key_1", "calls", 10)}))
	sealed := func(budgets ...any) store.BudgetNode {
		n := node("key_1", budgets...)
		n.Sealed = true
		return n
	}
	mustSpend(t, b, spend([]store.BudgetNode{sealed("calls", 10)}, "calls", 1))
	wantRefusal(t, b, spend([]store.BudgetNode{sealed("calls", 10, "usd", 1000)}, "usd", 5), "key_1", "usd", store.BudgetMismatch)
	wantRefusal(t, b, spend([]store.BudgetNode{sealed("calls", 10, "usd", 1000), node("hop_1", "usd", 10)}), "key_1", "usd", store.BudgetMismatch)
	rows, err := b.Budgets(t.Context(), acme, "key_1")
	ok(t, err, "Budgets")
	if len(rows) != 1 {
		t.Fatalf("a sealed node gained rows: %+v", rows)
	}
	wantRemaining(t, b, "key_1", "calls", 9)
}
