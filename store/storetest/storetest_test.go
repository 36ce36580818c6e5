package storetest_test

import (
	"context"
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
		func(*testing.T) store.Store { return &handle{data: memory.New()} },
		storetest.WithReopen(func(t *testing.T, s store.Store) store.Store {
			h := s.(*handle)
			if err := h.Close(); err != nil {
				t.Fatalf("close before reopen: %v", err)
			}
			return &handle{data: h.data}
		}),
	)
}

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

// handle is a store.Store over data that outlives it.
type handle struct {
	data   *memory.Store
	closed atomic.Bool
}

var _ store.Store = (*handle)(nil)

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
	return nil
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

func (h *handle) AuditHead(ctx context.Context) (store.AuditRecord, error) {
	if err := h.check("audit head"); err != nil {
		return store.AuditRecord{}, err
	}
	return h.data.AuditHead(ctx)
}

func (h *handle) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	if err := h.check("query audit"); err != nil {
		return nil, err
	}
	return h.data.QueryAudit(ctx, q)
}
