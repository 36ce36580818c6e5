package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust/store"
)

// Concurrent writers lose nothing. The cases are sized to stay quick under
// the race detector.
const (
	goroutines = 8
	perWorker  = 25
)

func concurrencyCases() []testCase {
	return []testCase{
		{name: "Blocks", run: testConcurrentBlocks},
		{name: "CreateApprovals", run: testConcurrentCreateApprovals},
		{name: "AppendAudit", run: testConcurrentAppendAudit},
		{name: "AppendAuditChains", run: testConcurrentAppendAuditChains},
		{name: "CreateKeys", run: testConcurrentCreateKeys},
		{name: "MixedWriters", run: testConcurrentMixedWriters},
		{name: "ReadsDuringWrites", run: testConcurrentReadsDuringWrites},
	}
}

// each runs fn(g, i) for every worker g and every i, perWorker times per
// worker, with the workers in parallel.
func each(fn func(g, i int)) {
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perWorker {
				fn(g, i)
			}
		})
	}
	wg.Wait()
}

func testConcurrentBlocks(t *testing.T, e *env) {
	ctx := t.Context()
	each(func(g, i int) {
		id := fmt.Sprintf("id-%d-%d", g, i)
		if err := e.s.Revoke(ctx, block(acme, "r-"+id, i)); err != nil {
			t.Errorf("Revoke: %v", err)
		}
		if err := e.s.Suspend(ctx, block(acme, "s-"+id, i)); err != nil {
			t.Errorf("Suspend: %v", err)
		}
	})
	if t.Failed() {
		return
	}
	if n := len(listBlocks(t, e.s, acme)); n != 2*goroutines*perWorker {
		t.Fatalf("Blocks: %d blocks, want %d", n, 2*goroutines*perWorker)
	}
	for g := range goroutines {
		for i := range perWorker {
			id := fmt.Sprintf("id-%d-%d", g, i)
			blocked(t, e.s, acme, []string{"r-" + id}, "r-"+id, store.Revoked)
			blocked(t, e.s, acme, []string{"s-" + id}, "s-"+id, store.Suspended)
		}
	}
}

func testConcurrentCreateApprovals(t *testing.T, e *env) {
	ctx := t.Context()
	each(func(g, i int) {
		if err := e.s.CreateApproval(ctx, pendingApproval(acme, fmt.Sprintf("ap-%d-%d", g, i), g*perWorker+i, i)); err != nil {
			t.Errorf("CreateApproval: %v", err)
		}
	})
	as, err := e.s.Approvals(ctx, store.ApprovalFilter{Tenant: acme})
	ok(t, err, "Approvals")
	ids := map[string]bool{}
	for _, a := range as {
		ids[a.ID] = true
	}
	if len(as) != goroutines*perWorker || len(ids) != len(as) {
		t.Fatalf("Approvals: %d approvals with %d distinct ids, want %d", len(as), len(ids), goroutines*perWorker)
	}
}

// appendNext appends rec at the sequence number after the head of its
// chain, retrying while other writers win the race for it.
func appendNext(t *testing.T, s store.Store, rec store.AuditRecord) error {
	for range 10_000 {
		rec.Seq = 1
		head, err := s.AuditHead(t.Context(), rec.Chain)
		switch {
		case err == nil:
			rec.Seq = head.Seq + 1
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		err = s.AppendAudit(t.Context(), []store.AuditRecord{rec})
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return errors.New("storetest: gave up appending after 10000 conflicts")
}

// writerRecord returns the i-th record of writer g in chain alpha, with
// Seq unset.
func writerRecord(g, i int) store.AuditRecord {
	r := record(0)
	r.AgentID = fmt.Sprint("writer-", g)
	r.Reason = fmt.Sprint(i)
	return r
}

// checkWriterRecords checks that recs hold every record of every writer,
// each writer's in its order, under Seq 1 to n.
func checkWriterRecords(t *testing.T, recs []store.AuditRecord) {
	t.Helper()
	if len(recs) != goroutines*perWorker {
		t.Fatalf("QueryAudit: %d records, want %d", len(recs), goroutines*perWorker)
	}
	next := map[string]int{}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has Seq %d, want %d", i, r.Seq, i+1)
		}
		if want := fmt.Sprint(next[r.AgentID]); r.Reason != want {
			t.Fatalf("record %d of %s is %s, want %s", i, r.AgentID, r.Reason, want)
		}
		next[r.AgentID]++
	}
}

func testConcurrentAppendAudit(t *testing.T, e *env) {
	each(func(g, i int) {
		if err := appendNext(t, e.s, writerRecord(g, i)); err != nil {
			t.Errorf("append: %v", err)
		}
	})
	checkWriterRecords(t, queryAudit(t, e.s, store.AuditQuery{}))
}

// Writers on their own chains never conflict: each chain continues from
// its own head, whatever the others do.
func testConcurrentAppendAuditChains(t *testing.T, e *env) {
	ctx := t.Context()
	chain := func(g int) string { return fmt.Sprint("writer", string(rune('a'+g))) }
	each(func(g, i int) {
		if err := e.s.AppendAudit(ctx, chainRecords(chain(g), uint64(i+1), uint64(i+1))); err != nil {
			t.Errorf("AppendAudit %s/%d: %v", chain(g), i+1, err)
		}
	})
	if t.Failed() {
		return
	}
	var want []store.AuditRecord
	for g := range goroutines {
		recs := chainRecords(chain(g), 1, perWorker)
		equalRecords(t, "QueryAudit of "+chain(g), queryAudit(t, e.s, store.AuditQuery{Chain: chain(g)}), recs)
		equalRecords(t, "AuditHead of "+chain(g), []store.AuditRecord{auditHead(t, e.s, chain(g))}, recs[perWorker-1:])
		want = append(want, recs...)
	}
	equalKeys(t, "QueryAudit{}", positions(queryAudit(t, e.s, store.AuditQuery{})), positions(want))
}

// Of writers racing to create keys with one hash, exactly one wins.
func testConcurrentCreateKeys(t *testing.T, e *env) {
	ctx := t.Context()
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			errs[g] = e.s.CreateKey(ctx, apiKey(acme, fmt.Sprint("key-", g), 1, g))
		})
	}
	wg.Wait()
	winner := -1
	for g, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both created a key with one hash", winner, g)
		case err == nil:
			winner = g
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("writer %d: error = %v, want one wrapping %v", g, err, store.ErrConflict)
		}
	}
	if winner < 0 {
		t.Fatal("no writer created the key")
	}
	got, err := e.s.KeyByHash(ctx, keyHash(1))
	ok(t, err, "KeyByHash")
	equalKey(t, "KeyByHash", got, apiKey(acme, fmt.Sprint("key-", winner), 1, winner))
	equalKeys(t, "Keys", keyIDs(listKeys(t, e.s, acme)), []string{fmt.Sprint("acme/key-", winner)})
}

func testConcurrentMixedWriters(t *testing.T, e *env) {
	ctx := t.Context()
	each(func(g, i int) {
		id := fmt.Sprintf("%d-%d", g, i)
		if err := e.s.Revoke(ctx, block(acme, "r-"+id, i)); err != nil {
			t.Errorf("Revoke: %v", err)
		}
		if err := e.s.CreateApproval(ctx, pendingApproval(acme, "ap-"+id, g*perWorker+i, i)); err != nil {
			t.Errorf("CreateApproval: %v", err)
		}
		if err := appendNext(t, e.s, writerRecord(g, i)); err != nil {
			t.Errorf("append: %v", err)
		}
	})
	if n := len(listBlocks(t, e.s, acme)); n != goroutines*perWorker {
		t.Errorf("Blocks: %d, want %d", n, goroutines*perWorker)
	}
	as, err := e.s.Approvals(ctx, store.ApprovalFilter{Tenant: acme})
	ok(t, err, "Approvals")
	if len(as) != goroutines*perWorker {
		t.Errorf("Approvals: %d, want %d", len(as), goroutines*perWorker)
	}
	checkWriterRecords(t, queryAudit(t, e.s, store.AuditQuery{}))
}

// Readers running during writes see no errors, and a reader never sees a
// revocation disappear once it has seen it.
func testConcurrentReadsDuringWrites(t *testing.T, e *env) {
	ctx := t.Context()
	const ids = 100
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			seen := 0 // ids 0..seen-1 were seen revoked
			for {
				select {
				case <-done:
					return
				default:
				}
				for id := range ids {
					_, isBlocked, err := e.s.Blocked(ctx, acme, []string{fmt.Sprint("id-", id)})
					if err != nil {
						t.Errorf("Blocked: %v", err)
						return
					}
					if !isBlocked && id < seen {
						t.Errorf("id-%d was blocked, then not", id)
						return
					}
					if isBlocked && id == seen {
						seen++
					}
				}
				if _, err := e.s.Blocks(ctx, acme); err != nil {
					t.Errorf("Blocks: %v", err)
					return
				}
			}
		})
	}
	for id := range ids {
		if err := e.s.Revoke(ctx, block(acme, fmt.Sprint("id-", id), id)); err != nil {
			t.Errorf("Revoke: %v", err)
			break
		}
	}
	close(done)
	readers.Wait()
	got := listBlocks(t, e.s, acme)
	byCreation := func(a, b store.Block) int { return a.CreatedAt.Compare(b.CreatedAt) }
	if len(got) != ids || !slices.IsSortedFunc(got, byCreation) {
		t.Fatalf("Blocks: %q, want %d blocks in order of creation", blockKeys(got), ids)
	}
}
