package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Budgeter is implemented by stores that hold hierarchical budgets: the
// numbers of calls and sums of spend that a credential and each of its
// delegations may use. A check made with a credential that carries a
// budget is denied over a store that does not implement it.
//
// # Model
//
// A budget row belongs to one node of a delegation chain (an API key, a
// token or a hop) and one budget Name (its identity: what it counts, its
// currency and its tool scope). It holds:
//
//	Limit        what may ever pass through the node under this name
//	Spent        what has passed through it: spent at the node itself
//	             and at every descendant holding the same name
//	Carved       the sum of the Limits of its live children (carve-outs)
//	CarvedSpent  the sum of the Spent of those children
//
// and its remaining budget, what it may still spend itself or carve out
// for a new child, is Limit - (Spent - CarvedSpent) - Carved. A child is
// the nearest descendant on a chain holding the same name; the node it
// was carved from is its Holder.
//
// A spend (SpendBudget) is all or nothing across the chain, in one
// transaction. It first materialises each row of the chain it does not
// find, carving the row's Limit out of its holder's remaining budget
// (refused when the holder has less); then, for each name with an amount,
// the deepest row of the chain holding it (the spender) must have the
// amount remaining, and the amount is added to the Spent of the spender
// and of every ancestor holding the name, and to the CarvedSpent of those
// ancestors. So Spent never exceeds Limit at any node, and a child never
// takes more than was carved for it. If any row refuses, nothing changes.
//
// A released row (ReleaseBudget, after the revocation of its node or of
// an ancestor of it; or expired and reclaimed) returns its unspent
// carve-out to its holder: the holder's Carved drops by the row's Limit
// and its CarvedSpent by the row's Spent, so what the child spent stays
// spent and the rest is the holder's again. A released or expired row
// refuses every later spend and every carve from it. A spend that finds
// its spender or a holder short first reclaims that holder's expired
// children, then decides.
//
// Amounts are int64 units (one per call; millionths of a currency unit
// for sums, see the root package), each Limit and amount at most
// MaxBudget, so no sum a store computes overflows.
type Budgeter interface {
	// SpendBudget materialises and spends as s says, atomically, and
	// reports the row that refused, if any (the zero BudgetRefusal when
	// it spent). s is checked with s.Validate first (ErrInvalid).
	SpendBudget(ctx context.Context, s BudgetSpend) (BudgetRefusal, error)
	// ReleaseBudget releases every live row of tenant whose node is id or
	// descends from it, and reports how many it released.
	ReleaseBudget(ctx context.Context, tenant, id string) (int, error)
	// Budgets returns the rows of node in tenant, ordered by name; an
	// empty slice when it holds none.
	Budgets(ctx context.Context, tenant, node string) ([]BudgetRow, error)
}

// MaxBudget bounds every Limit and amount: 2^53 units. The sum of two
// stays far inside int64, and every value is exact in a float64.
const MaxBudget int64 = 1 << 53

// Bounds of a BudgetSpend.
const (
	MaxBudgetPath  = 16   // nodes in a chain: a key, a token, hops
	MaxBudgetNames = 16   // budgets per node, and amounts per spend
	MaxBudgetText  = 1024 // bytes of a node id or a budget name
)

// BudgetSpend is one all-or-nothing spend over a chain.
type BudgetSpend struct {
	Tenant string
	// Path is the chain, root first: the API key, then the token, then
	// each hop. A node without budgets is still listed: its id marks the
	// rows below it, which ReleaseBudget of that id releases.
	Path []BudgetNode
	// Amounts says what to spend under each name; a name the chain does
	// not hold is ErrInvalid. Empty: materialise only (a delegation).
	Amounts []BudgetAmount
	// Now is the caller's clock: rows expired at Now refuse.
	Now time.Time
}

// BudgetNode is one node of a chain and the budgets it declares.
type BudgetNode struct {
	ID        string
	ExpiresAt time.Time // zero: never
	Budgets   []BudgetLimit
	// Sealed: the node's rows were all made with it (an API key's, when
	// it was created), so a row of it that is not found is not made: the
	// spend refuses (BudgetMismatch). Else a token's holder could give
	// its key a budget the key never declared.
	Sealed bool
}

// BudgetLimit is one budget a node declares.
type BudgetLimit struct {
	Name  string
	Limit int64
}

// BudgetAmount is what one spend takes under a budget name.
type BudgetAmount struct {
	Name   string
	Amount int64
}

// BudgetRow is the stored state of one budget of one node; see Budgeter.
type BudgetRow struct {
	Tenant, Node, Name string
	Holder             string // the node it was carved from; "" for none
	// Path is "/" + the chain's ids up to and including Node, each
	// followed by "/".
	Path                              string
	Depth                             int // Node's index in the chain
	Limit, Spent, Carved, CarvedSpent int64
	CreatedAt, ExpiresAt              time.Time // ExpiresAt zero: never
	Released                          bool
}

// Remaining is what the row's node may still spend itself or carve out.
func (r *BudgetRow) Remaining() int64 { return r.Limit - (r.Spent - r.CarvedSpent) - r.Carved }

// Key returns the key of r.
func (r *BudgetRow) Key() BudgetKey { return BudgetKey{Depth: r.Depth, Node: r.Node, Name: r.Name} }

func (r *BudgetRow) expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// BudgetKey names a row; Depth orders locks.
type BudgetKey struct {
	Depth      int
	Node, Name string
}

func compareKeys(a, b BudgetKey) int {
	if c := cmp.Compare(a.Depth, b.Depth); c != 0 {
		return c
	}
	if c := strings.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// SortBudgetKeys sorts keys into lock order: by depth, node, then name.
// Every transaction that locks rows takes them in this order, which is
// the same for every chain of a tree, so two spends never deadlock.
func SortBudgetKeys(keys []BudgetKey) {
	if !slices.IsSortedFunc(keys, compareKeys) { // a chain's keys mostly are
		slices.SortFunc(keys, compareKeys)
	}
}

// BudgetReason says why a row refused.
type BudgetReason string

// Reasons of a BudgetRefusal.
const (
	// BudgetExhausted: the spender has less remaining than the amount.
	BudgetExhausted BudgetReason = "exhausted"
	// BudgetCarve: a new child's Limit is more than its holder has left.
	BudgetCarve BudgetReason = "carve exceeds the parent's remaining budget"
	// BudgetReleased: the row was released or has expired.
	BudgetReleased BudgetReason = "released"
	// BudgetMismatch: the chain declares a row otherwise than it was
	// materialised (another limit, holder or path).
	BudgetMismatch BudgetReason = "does not match the stored budget"
)

// BudgetRefusal names the row that refused a spend. The zero value is no
// refusal.
type BudgetRefusal struct {
	Node, Name string
	Reason     BudgetReason
}

// Refused reports whether r names a refusal.
func (r BudgetRefusal) Refused() bool { return r.Reason != "" }

// Validate reports whether s is a spend a Budgeter accepts; the error
// wraps ErrInvalid. It allocates nothing unless s is invalid: the lists
// are short and bounded, so repeats are found by scanning.
func (s *BudgetSpend) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("agenttrust/store: spend budget: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
	}
	if !budgetText(s.Tenant, 0) {
		return bad("bad tenant")
	}
	if len(s.Path) == 0 || len(s.Path) > MaxBudgetPath {
		return bad("path of %d nodes (want 1 to %d)", len(s.Path), MaxBudgetPath)
	}
	if s.Now.Before(minRateNow) || !s.Now.Before(maxRateNow) {
		return bad("now is outside 1970 to 2200")
	}
	for i, n := range s.Path {
		if !budgetID(n.ID) {
			return bad("node id %q is empty, too long or holds '/'", n.ID)
		}
		for _, m := range s.Path[:i] {
			if m.ID == n.ID {
				return bad("node id %q is repeated", n.ID)
			}
		}
		if len(n.Budgets) > MaxBudgetNames {
			return bad("node %q declares %d budgets (at most %d)", n.ID, len(n.Budgets), MaxBudgetNames)
		}
		for j, b := range n.Budgets {
			if b.Name == "" || !budgetText(b.Name, 0) {
				return bad("node %q: budget name %q is empty or not valid text", n.ID, b.Name)
			}
			for _, c := range n.Budgets[:j] {
				if c.Name == b.Name {
					return bad("node %q: budget %q is repeated", n.ID, b.Name)
				}
			}
			if b.Limit < 0 || b.Limit > MaxBudget {
				return bad("node %q: budget %q: limit %d is outside 0 to %d", n.ID, b.Name, b.Limit, MaxBudget)
			}
		}
	}
	if len(s.Amounts) > MaxBudgetNames {
		return bad("%d amounts (at most %d)", len(s.Amounts), MaxBudgetNames)
	}
	for i, a := range s.Amounts {
		if s.holder(a.Name, len(s.Path)) < 0 {
			return bad("amount for %q: no node holds that budget", a.Name)
		}
		for _, b := range s.Amounts[:i] {
			if b.Name == a.Name {
				return bad("amount for %q is repeated", a.Name)
			}
		}
		if a.Amount < 0 || a.Amount > MaxBudget {
			return bad("amount %d for %q is outside 0 to %d", a.Amount, a.Name, MaxBudget)
		}
	}
	return nil
}

// pathTo returns the Path of a row of s.Path[i].
func (s *BudgetSpend) pathTo(i int) string {
	var sb strings.Builder
	sb.WriteByte('/')
	for _, p := range s.Path[:i+1] {
		sb.WriteString(p.ID)
		sb.WriteByte('/')
	}
	return sb.String()
}

// isPathTo reports whether path is s.pathTo(i), without making it.
func (s *BudgetSpend) isPathTo(path string, i int) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	path = path[1:]
	for _, p := range s.Path[:i+1] {
		if len(path) <= len(p.ID) || path[:len(p.ID)] != p.ID || path[len(p.ID)] != '/' {
			return false
		}
		path = path[len(p.ID)+1:]
	}
	return path == ""
}

// holder returns the index of the deepest node of s.Path before end
// that declares name, or -1.
func (s *BudgetSpend) holder(name string, end int) int {
	for i := end - 1; i >= 0; i-- {
		for _, b := range s.Path[i].Budgets {
			if b.Name == name {
				return i
			}
		}
	}
	return -1
}

func budgetID(s string) bool { return s != "" && budgetText(s, '/') }

// budgetText reports what rateText does, and that s holds no byte bad
// (0 for none), in one pass over s: Validate runs on every check.
func budgetText(s string, bad byte) bool {
	if len(s) > MaxBudgetText {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == 0 || b == bad && bad != 0:
			return false
		case b >= utf8.RuneSelf:
			return utf8.ValidString(s[i:]) && strings.IndexByte(s[i:], 0) < 0 && (bad == 0 || strings.IndexByte(s[i:], bad) < 0)
		}
	}
	return true
}

// Keys returns the keys of the rows s touches, in lock order.
func (s *BudgetSpend) Keys() []BudgetKey { return s.appendKeys(nil) }

func (s *BudgetSpend) appendKeys(keys []BudgetKey) []BudgetKey {
	keys = keys[:0]
	for i, p := range s.Path {
		for _, b := range p.Budgets {
			keys = append(keys, BudgetKey{Depth: i, Node: p.ID, Name: b.Name})
		}
	}
	SortBudgetKeys(keys)
	return keys
}

// BudgetWrite is one row a transaction writes: inserted when Insert,
// else updated in place.
type BudgetWrite struct {
	Row    BudgetRow
	Insert bool
}

// PlanBudgetSpend decides s against rows, the stored rows of keys
// (s.Keys(), in that order; a zero BudgetRow where a key has none), locked
// by the caller, and returns the writes that apply it, or the refusal. It
// changes neither s nor rows. Backends call it through SpendBudgetTx; it
// is exported so they share one semantics.
func PlanBudgetSpend(s *BudgetSpend, keys []BudgetKey, rows []BudgetRow) ([]BudgetWrite, BudgetRefusal) {
	return planBudgetSpend(nil, s, keys, rows)
}

// planBudgetSpend is PlanBudgetSpend with its writes in dst's array,
// when it is large enough.
func planBudgetSpend(dst []BudgetWrite, s *BudgetSpend, keys []BudgetKey, rows []BudgetRow) ([]BudgetWrite, BudgetRefusal) {
	work := slices.Grow(dst[:0], len(keys))[:len(keys)]
	for i := range keys {
		work[i] = BudgetWrite{Row: rows[i], Insert: rows[i].Node == ""}
	}
	find := func(depth int, name string) *BudgetWrite {
		for i := range keys {
			if keys[i].Depth == depth && keys[i].Name == name {
				return &work[i]
			}
		}
		return nil
	}
	// Materialise and check the rows root first, so that a holder is
	// settled before its children carve from it.
	for i, p := range s.Path {
		for _, b := range p.Budgets {
			w := find(i, b.Name)
			hi := s.holder(b.Name, i)
			holder := ""
			var h *BudgetWrite
			if hi >= 0 {
				holder, h = s.Path[hi].ID, find(hi, b.Name)
			}
			r := &w.Row
			if w.Insert && r.Node == "" {
				if p.Sealed {
					return nil, BudgetRefusal{Node: p.ID, Name: b.Name, Reason: BudgetMismatch}
				}
				if h != nil {
					if h.Row.Remaining() < b.Limit {
						return nil, BudgetRefusal{Node: holder, Name: b.Name, Reason: BudgetCarve}
					}
					h.Row.Carved += b.Limit
				}
				*r = BudgetRow{
					Tenant: s.Tenant, Node: p.ID, Name: b.Name, Holder: holder, Path: s.pathTo(i), Depth: i,
					Limit: b.Limit, CreatedAt: s.Now, ExpiresAt: p.ExpiresAt,
				}
			}
			switch {
			case r.Released || r.expired(s.Now):
				return nil, BudgetRefusal{Node: p.ID, Name: b.Name, Reason: BudgetReleased}
			case r.Limit != b.Limit || r.Holder != holder || r.Depth != i || !s.isPathTo(r.Path, i):
				return nil, BudgetRefusal{Node: p.ID, Name: b.Name, Reason: BudgetMismatch}
			}
		}
	}
	for _, a := range s.Amounts {
		si := s.holder(a.Name, len(s.Path))
		spender := find(si, a.Name)
		if spender.Row.Remaining() < a.Amount {
			return nil, BudgetRefusal{Node: spender.Row.Node, Name: a.Name, Reason: BudgetExhausted}
		}
		for i := si; i >= 0; i = s.holder(a.Name, i) {
			r := &find(i, a.Name).Row
			if r.Spent+a.Amount > r.Limit {
				// Unreachable while every row was written by this code;
				// a row edited by hand still cannot be overspent.
				return nil, BudgetRefusal{Node: r.Node, Name: a.Name, Reason: BudgetExhausted}
			}
			r.Spent += a.Amount
			if i != si {
				r.CarvedSpent += a.Amount
			}
		}
	}
	out := work[:0]
	for i := range work {
		if work[i].Insert || work[i].Row != rows[i] {
			out = append(out, work[i])
		}
	}
	return out, BudgetRefusal{}
}

// PlanBudgetRelease releases rows (live rows, each under the released id)
// and returns the writes: each row marked released, and each holder in
// holders (by key) that is not itself released given back the row's
// unspent carve-out.
func PlanBudgetRelease(release []BudgetRow, holders map[BudgetKey]BudgetRow) []BudgetWrite {
	gone := map[[2]string]bool{}
	for _, r := range release {
		gone[[2]string{r.Node, r.Name}] = true
	}
	hs := map[[2]string]*BudgetRow{}
	for _, h := range holders {
		h := h
		hs[[2]string{h.Node, h.Name}] = &h
	}
	var out []BudgetWrite
	for _, r := range release {
		if r.Released {
			continue
		}
		r.Released = true
		out = append(out, BudgetWrite{Row: r})
		hk := [2]string{r.Holder, r.Name}
		if h := hs[hk]; r.Holder != "" && h != nil && !gone[hk] && !h.Released {
			h.Carved = max(0, h.Carved-r.Limit)
			h.CarvedSpent = max(0, h.CarvedSpent-r.Spent)
		}
	}
	for _, h := range holders {
		if n := hs[[2]string{h.Node, h.Name}]; *n != h {
			out = append(out, BudgetWrite{Row: *n})
		}
	}
	return out
}

// HolderKey returns the key of the row r was carved from, its depth read
// from r's path; ok is false when r has no holder.
func (r *BudgetRow) HolderKey() (BudgetKey, bool) {
	if r.Holder == "" {
		return BudgetKey{}, false
	}
	ids := strings.Split(strings.Trim(r.Path, "/"), "/")
	for i, id := range ids {
		if id == r.Holder {
			return BudgetKey{Depth: i, Node: r.Holder, Name: r.Name}, true
		}
	}
	return BudgetKey{}, false
}

// Under reports whether r's node is id or descends from it.
func (r *BudgetRow) Under(id string) bool { return strings.Contains(r.Path, "/"+id+"/") }

// BudgetTx is what SpendBudgetTx and ReleaseBudgetTx need of a backend's
// transaction. Rows are returned as stored; locks are held until the
// transaction ends.
type BudgetTx interface {
	// LockRows returns the rows of keys, in their order (a zero BudgetRow
	// for a key without one), locking them for update one by one in that
	// order, which is lock order.
	LockRows(ctx context.Context, tenant string, keys []BudgetKey) ([]BudgetRow, error)
	// LockExpiredChildren returns, locked, the live rows of tenant carved
	// from (holder, name) whose ExpiresAt is non-zero and at or before now.
	LockExpiredChildren(ctx context.Context, tenant, holder, name string, now time.Time) ([]BudgetRow, error)
	// RowsUnder returns the live rows of tenant whose path holds id, with
	// no lock: ReleaseBudgetTx locks them, in order, and reads them again.
	RowsUnder(ctx context.Context, tenant, id string) ([]BudgetRow, error)
	// Write inserts or updates rows.
	Write(ctx context.Context, w []BudgetWrite) error
}

// SpendBudgetTx runs s in tx: locks the rows of the chain in lock order,
// plans, reclaims the expired children of a holder that was short and
// plans again, and writes. The caller validates s, begins the
// transaction and commits it unless an error is returned (on a refusal
// only a reclaim was written, which stands on its own).
func SpendBudgetTx(ctx context.Context, tx BudgetTx, s *BudgetSpend) (BudgetRefusal, error) {
	return SpendBudgetScratch(ctx, tx, s, nil)
}

// BudgetScratch is room a backend that serialises its spends (under a
// mutex) reuses from one spend to the next; the zero value is ready.
type BudgetScratch struct {
	keys   []BudgetKey
	writes []BudgetWrite
}

// SpendBudgetScratch is SpendBudgetTx reusing sc, which only one spend
// may use at a time; nil allocates.
func SpendBudgetScratch(ctx context.Context, tx BudgetTx, s *BudgetSpend, sc *BudgetScratch) (BudgetRefusal, error) {
	if sc == nil {
		sc = new(BudgetScratch)
	}
	keys := s.appendKeys(sc.keys)
	sc.keys = keys
	rows, err := tx.LockRows(ctx, s.Tenant, keys)
	if err != nil {
		return BudgetRefusal{}, err
	}
	writes, ref := planBudgetSpend(sc.writes, s, keys, rows)
	sc.writes = writes[:0]
	if ref.Reason == BudgetExhausted || ref.Reason == BudgetCarve {
		hi := -1
		for i := range keys {
			if keys[i].Node == ref.Node && keys[i].Name == ref.Name && rows[i].Node != "" {
				hi = i
			}
		}
		if hi >= 0 {
			kids, err := tx.LockExpiredChildren(ctx, s.Tenant, ref.Node, ref.Name, s.Now)
			if err != nil {
				return BudgetRefusal{}, err
			}
			if len(kids) > 0 {
				rel := PlanBudgetRelease(kids, map[BudgetKey]BudgetRow{keys[hi]: rows[hi]})
				if err := tx.Write(ctx, rel); err != nil {
					return BudgetRefusal{}, err
				}
				for _, w := range rel {
					for i := range keys {
						if keys[i].Node == w.Row.Node && keys[i].Name == w.Row.Name {
							rows[i] = w.Row
						}
					}
				}
				writes, ref = planBudgetSpend(sc.writes, s, keys, rows)
			}
		}
	}
	if ref.Refused() {
		return ref, nil
	}
	return BudgetRefusal{}, tx.Write(ctx, writes)
}

// ReleaseBudgetTx runs a release of id in tx (see Budgeter.ReleaseBudget).
func ReleaseBudgetTx(ctx context.Context, tx BudgetTx, tenant, id string) (int, error) {
	if !budgetID(id) {
		return 0, nil // no chain holds such an id
	}
	under, err := tx.RowsUnder(ctx, tenant, id)
	if err != nil || len(under) == 0 {
		return 0, err
	}
	var keys []BudgetKey
	seen := map[BudgetKey]bool{}
	add := func(k BudgetKey) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for i := range under {
		add(under[i].Key())
		if hk, ok := under[i].HolderKey(); ok {
			add(hk)
		}
	}
	SortBudgetKeys(keys)
	locked, err := tx.LockRows(ctx, tenant, keys)
	if err != nil {
		return 0, err
	}
	var release []BudgetRow
	holders := map[BudgetKey]BudgetRow{}
	for i, k := range keys {
		r := locked[i]
		if r.Node == "" {
			continue
		}
		if r.Under(id) {
			if !r.Released {
				release = append(release, r)
			}
		} else {
			holders[k] = r
		}
	}
	if len(release) == 0 {
		return 0, nil
	}
	return len(release), tx.Write(ctx, PlanBudgetRelease(release, holders))
}
