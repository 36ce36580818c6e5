package audit

import (
	"context"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// liveAppends is a store whose chain grows while it is being checked: on
// the first AuditHead it appends two genuine records of the chain, after
// reading the head (after) or before (!after), as a node writing the
// chain does between the checker's reads.
type liveAppends struct {
	*memory.Store
	after  bool
	append func()
}

func (s *liveAppends) AuditHead(ctx context.Context, chain string) (agenttrust.AuditRecord, error) {
	if !s.after && s.append != nil {
		s.append()
		s.append = nil
	}
	head, err := s.Store.AuditHead(ctx, chain)
	if s.after && s.append != nil {
		s.append()
		s.append = nil
	}
	return head, err
}

// TestAttackCheckpointLiveChain: genuine records landing while a chain is
// checked or verified are not a break. Checkpoints.Check read the head
// first and then verified every record it was given, past that head too;
// VerifyStoredChain read the records first and the head last. Either way
// an honest append between the two reads raised ErrChainBroken: at a
// tenant's open, a false alarm that keeps it shut.
func TestAttackCheckpointLiveChain(t *testing.T) {
	key := mustAuditKey(t, attackSecret)
	for _, tc := range []struct {
		name  string
		after bool
		run   func(context.Context, store.Audit, *Checkpoints) error
	}{
		{"Check, records after the head is read", true, func(ctx context.Context, st store.Audit, cps *Checkpoints) error {
			return cps.Check(ctx, st, "n1/acme")
		}},
		{"VerifyStoredChain, records before the head is read", false, func(ctx context.Context, st store.Audit, cps *Checkpoints) error {
			return VerifyStoredChain(ctx, st, "n1/acme", key, cps)
		}},
		{"VerifyStoredChain without checkpoints", false, func(ctx context.Context, st store.Audit, _ *Checkpoints) error {
			return VerifyStoredChain(ctx, st, "n1/acme", key, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, _, path := checkpointed(t, key, 3)
			cps, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: key})
			if err != nil {
				t.Fatal(err)
			}
			defer cps.Close()
			appended := false
			st := &liveAppends{Store: mem, after: tc.after, append: func() {
				c, err := agenttrust.New(mem, agenttrust.WithTenant("acme"), agenttrust.WithAudit(agenttrust.AuditConfig{Key: key, Chain: "n1/acme", Sinks: []agenttrust.AuditSink{NewStoreSink(mem)}}))
				if err != nil {
					t.Fatal(err)
				}
				c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
				c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				appended = true
			}}
			if err := tc.run(context.Background(), st, cps); err != nil {
				t.Errorf("a chain appended to while checked: %v", err)
			}
			if !appended {
				t.Fatal("the test appended nothing")
			}
			// The appended chain verifies whole afterwards.
			if err := VerifyStoredChain(context.Background(), mem, "n1/acme", key, cps); err != nil {
				t.Fatal(err)
			}
		})
	}
}
