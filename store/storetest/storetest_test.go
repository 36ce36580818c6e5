package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/storetest"
)

// TestReopen runs the suite, Reopen cases included, on handles to shared
// memory data: closing a handle leaves the data to the next one, as
// closing a database connection does.
func TestReopen(t *testing.T) {
	storetest.Run(t,
		func(*testing.T) store.Store { return newHandle(memory.New()) },
		storetest.WithReopen(func(t *testing.T, s store.Store) store.Store {
			h := s.(*handle)
			if err := h.Close(); err != nil {
				t.Fatalf("close before reopen: %v", err)
			}
			return newHandle(h.data)
		}),
	)
}

// TestWithoutWatcher runs the suite on a store that does not implement
// store.Watcher: the Watch cases are skipped, the others pass.
func TestWithoutWatcher(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return plain{memory.New()} })
}

// plain hides every method of the memory store but those of store.Store.
type plain struct{ store.Store }

// TestRunFailsWithoutCases runs itself in a child process where -test.run
// matches no case, and checks that Run failed there.
func TestRunFailsWithoutCases(t *testing.T) {
	if os.Getenv("STORETEST_CHILD") == "1" {
		storetest.Run(t, func(*testing.T) store.Store { return memory.New() })
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRunFailsWithoutCases$/^NoSuchGroup$")
	cmd.Env = append(os.Environ(), "STORETEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no case ran") {
		t.Fatalf("Run matching no case: err = %v, output:\n%s\nwant a failure saying no case ran", err, out)
	}
}

// handle is a store.Store and store.Watcher over data that outlives it.
type handle struct {
	data   *memory.Store
	closed atomic.Bool
	// done ends the handle's Watches when it is closed.
	done   context.Context
	cancel context.CancelFunc
}

func newHandle(data *memory.Store) *handle {
	h := &handle{data: data}
	h.done, h.cancel = context.WithCancel(context.Background())
	return h
}

var (
	_ store.Store   = (*handle)(nil)
	_ store.Watcher = (*handle)(nil)
)

func (h *handle) check(op string) error {
	if h.closed.Load() {
		return fmt.Errorf("handle: %s: %w", op, store.ErrClosed)
	}
	return nil
}

func (h *handle) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("handle: close: %w", store.ErrClosed)
	}
	h.cancel()
	return nil
}

// errHandleClosed is the cause of the end of a Watch by Close.
var errHandleClosed = errors.New("handle closed")

func (h *handle) Watch(ctx context.Context, fn func(store.Change)) error {
	if err := h.check("watch"); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(h.done, func() { cancel(errHandleClosed) })
	defer stop()
	err := h.data.Watch(ctx, fn)
	if context.Cause(ctx) == errHandleClosed {
		return fmt.Errorf("handle: watch: %w", store.ErrClosed)
	}
	return err
}

func (h *handle) Mark(ctx context.Context, token string) error {
	if err := h.check("mark"); err != nil {
		return err
	}
	return h.data.Mark(ctx, token)
}

func (h *handle) Suspend(ctx context.Context, b store.Block) error {
	if err := h.check("suspend"); err != nil {
		return err
	}
	return h.data.Suspend(ctx, b)
}

func (h *handle) Resume(ctx context.Context, tenant, id string) error {
	if err := h.check("resume"); err != nil {
		return err
	}
	return h.data.Resume(ctx, tenant, id)
}

func (h *handle) Revoke(ctx context.Context, b store.Block) error {
	if err := h.check("revoke"); err != nil {
		return err
	}
	return h.data.Revoke(ctx, b)
}

func (h *handle) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	if err := h.check("blocked"); err != nil {
		return store.Block{}, false, err
	}
	return h.data.Blocked(ctx, tenant, ids)
}

func (h *handle) Blocks(ctx context.Context, tenant string) ([]store.Block, error) {
	if err := h.check("blocks"); err != nil {
		return nil, err
	}
	return h.data.Blocks(ctx, tenant)
}

func (h *handle) PruneRevocations(ctx context.Context, now time.Time) (int, error) {
	if err := h.check("prune revocations"); err != nil {
		return 0, err
	}
	return h.data.PruneRevocations(ctx, now)
}

func (h *handle) CreateApproval(ctx context.Context, a store.Approval) error {
	if err := h.check("create approval"); err != nil {
		return err
	}
	return h.data.CreateApproval(ctx, a)
}

func (h *handle) Approval(ctx context.Context, tenant, id string) (store.Approval, error) {
	if err := h.check("approval"); err != nil {
		return store.Approval{}, err
	}
	return h.data.Approval(ctx, tenant, id)
}

func (h *handle) Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	if err := h.check("approvals"); err != nil {
		return nil, err
	}
	return h.data.Approvals(ctx, f)
}

func (h *handle) DecideApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	if err := h.check("decide approval"); err != nil {
		return store.Approval{}, err
	}
	return h.data.DecideApproval(ctx, tenant, id, d)
}

func (h *handle) ConsumeApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (store.Approval, error) {
	if err := h.check("consume approval"); err != nil {
		return store.Approval{}, err
	}
	return h.data.ConsumeApproval(ctx, tenant, fingerprint, now)
}

func (h *handle) PendingApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (store.Approval, error) {
	if err := h.check("pending approval"); err != nil {
		return store.Approval{}, err
	}
	return h.data.PendingApproval(ctx, tenant, fingerprint, now)
}

func (h *handle) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	if err := h.check("policy"); err != nil {
		return store.PolicyDoc{}, err
	}
	return h.data.Policy(ctx, tenant)
}

func (h *handle) PutPolicy(ctx context.Context, doc store.PolicyDoc, expectVersion int64) (store.PolicyDoc, error) {
	if err := h.check("put policy"); err != nil {
		return store.PolicyDoc{}, err
	}
	return h.data.PutPolicy(ctx, doc, expectVersion)
}

func (h *handle) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	if err := h.check("append audit"); err != nil {
		return err
	}
	return h.data.AppendAudit(ctx, recs)
}

func (h *handle) AuditHead(ctx context.Context, chain string) (store.AuditRecord, error) {
	if err := h.check("audit head"); err != nil {
		return store.AuditRecord{}, err
	}
	return h.data.AuditHead(ctx, chain)
}

func (h *handle) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	if err := h.check("query audit"); err != nil {
		return nil, err
	}
	return h.data.QueryAudit(ctx, q)
}

func (h *handle) CreateKey(ctx context.Context, k store.Key) error {
	if err := h.check("create key"); err != nil {
		return err
	}
	return h.data.CreateKey(ctx, k)
}

func (h *handle) KeyByHash(ctx context.Context, hash [32]byte) (store.Key, error) {
	if err := h.check("key by hash"); err != nil {
		return store.Key{}, err
	}
	return h.data.KeyByHash(ctx, hash)
}

func (h *handle) Key(ctx context.Context, tenant, id string) (store.Key, error) {
	if err := h.check("key"); err != nil {
		return store.Key{}, err
	}
	return h.data.Key(ctx, tenant, id)
}

func (h *handle) Keys(ctx context.Context, tenant string) ([]store.Key, error) {
	if err := h.check("keys"); err != nil {
		return nil, err
	}
	return h.data.Keys(ctx, tenant)
}

func (h *handle) CreateHop(ctx context.Context, hp store.Hop) error {
	if err := h.check("create hop"); err != nil {
		return err
	}
	return h.data.CreateHop(ctx, hp)
}

func (h *handle) Hops(ctx context.Context, f store.HopFilter) ([]store.Hop, error) {
	if err := h.check("hops"); err != nil {
		return nil, err
	}
	return h.data.Hops(ctx, f)
}
