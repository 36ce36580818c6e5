package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// The attacker of these tests can rewrite stored audit records and the
// checkpoint file's bytes, but holds neither the audit key nor anything
// MACed under it.

var (
	attackSecret = bytes.Repeat([]byte("k"), 32)
	guessSecret  = bytes.Repeat([]byte("g"), 32)
)

func mustAuditKey(t testing.TB, secret []byte) agenttrust.AuditKey {
	t.Helper()
	k, err := agenttrust.NewAuditKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// checkpointed writes n records of chain through a checkpointed store sink
// and returns the store and checkpoints.
func checkpointed(t *testing.T, key agenttrust.AuditKey, n int) (*memory.Store, *Checkpoints, string) {
	t.Helper()
	st := memory.New()
	path := filepath.Join(t.TempDir(), "checkpoints")
	if err := CreateCheckpoints(path, key); err != nil {
		t.Fatal(err)
	}
	cps, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(st, agenttrust.WithAudit(agenttrust.AuditConfig{Key: key, Chain: "n1/acme"}), agenttrust.WithTenant("acme"), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{cps.StoreSink(st)}}))
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cps.Close(); err != nil {
		t.Fatal(err)
	}
	return st, cps, path
}

func TestAttackAuditCheckpointFile(t *testing.T) {
	key := mustAuditKey(t, attackSecret)
	_, _, good := checkpointed(t, key, 3)
	body, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(t *testing.T, path string)
		key  agenttrust.AuditKey
	}{
		{"file deleted", func(t *testing.T, path string) { os.Remove(path) }, key},
		{"seq lowered", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Replace(body, []byte(`"seq": 3`), []byte(`"seq": 1`), 1), 0o600)
		}, key},
		{"head replaced", func(t *testing.T, path string) {
			var cf checkpointFile
			json.Unmarshal(body, &cf)
			cf.Checkpoints[0].Head[0] ^= 1
			b, _ := json.Marshal(cf)
			os.WriteFile(path, b, 0o600)
		}, key},
		{"entry removed", func(t *testing.T, path string) {
			var cf checkpointFile
			json.Unmarshal(body, &cf)
			cf.Checkpoints = cf.Checkpoints[:0]
			b, _ := json.Marshal(cf)
			os.WriteFile(path, b, 0o600)
		}, key},
		{"entry repeated", func(t *testing.T, path string) {
			var cf checkpointFile
			json.Unmarshal(body, &cf)
			cf.Checkpoints = append(cf.Checkpoints, cf.Checkpoints[0])
			b, _ := json.Marshal(cf)
			os.WriteFile(path, b, 0o600)
		}, key},
		{"mac zeroed", func(t *testing.T, path string) {
			var cf checkpointFile
			json.Unmarshal(body, &cf)
			cf.MAC = store.Hash{}
			b, _ := json.Marshal(cf)
			os.WriteFile(path, b, 0o600)
		}, key},
		{"unknown field", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Replace(body, []byte(`"version": 1`), []byte(`"version": 1, "x": 1`), 1), 0o600)
		}, key},
		{"truncated", func(t *testing.T, path string) { os.WriteFile(path, body[:len(body)/2], 0o600) }, key},
		{"trailing data", func(t *testing.T, path string) { os.WriteFile(path, append(bytes.Clone(body), "{}"...), 0o600) }, key},
		{"other version", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Replace(body, []byte(`"version": 1`), []byte(`"version": 2`), 1), 0o600)
		}, key},
		{"writable by others", func(t *testing.T, path string) { os.Chmod(path, 0o666) }, key},
		{"a directory", func(t *testing.T, path string) { os.Remove(path); os.Mkdir(path, 0o700) }, key},
		{"opened with another key", func(t *testing.T, path string) {}, mustAuditKey(t, guessSecret)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "checkpoints")
			if err := os.WriteFile(path, body, 0o600); err != nil {
				t.Fatal(err)
			}
			tc.edit(t, path)
			cps, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: tc.key})
			if err == nil {
				cps.Close()
				t.Fatal("a tampered checkpoint file was accepted")
			}
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("OpenCheckpoints: %v, want ErrCheckpoint", err)
			}
		})
	}
	t.Run("missing file says so", func(t *testing.T) {
		_, err := OpenCheckpoints(CheckpointConfig{Path: filepath.Join(t.TempDir(), "none"), Key: key})
		if !errors.Is(err, ErrCheckpoint) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("missing file: %v", err)
		}
	})
	t.Run("create never replaces", func(t *testing.T) {
		if err := CreateCheckpoints(good, key); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("CreateCheckpoints over a file: %v, want fs.ErrExist", err)
		}
	})
}

// TestAttackAuditClientResume: a client does not continue a chain cut,
// rewritten or extended by forgery in the store; New fails and nothing
// is decided on it.
func TestAttackAuditClientResume(t *testing.T) {
	key := mustAuditKey(t, attackSecret)
	guess := mustAuditKey(t, guessSecret)
	cases := []struct {
		name   string
		tamper func(t *testing.T, st *memory.Store, recs []agenttrust.AuditRecord) store.Store
	}{
		{"records cut from the end", func(t *testing.T, st *memory.Store, recs []agenttrust.AuditRecord) store.Store {
			return rewritten(t, recs[:len(recs)-2])
		}},
		{"every record deleted", func(t *testing.T, st *memory.Store, recs []agenttrust.AuditRecord) store.Store {
			return rewritten(t, nil)
		}},
		{"the checkpointed record rewritten", func(t *testing.T, st *memory.Store, recs []agenttrust.AuditRecord) store.Store {
			recs[len(recs)-1].Reason = "fine"
			return rewritten(t, recs)
		}},
		{"whole chain remade under a guessed key", func(t *testing.T, st *memory.Store, recs []agenttrust.AuditRecord) store.Store {
			// The same requests, every record MACed under guess.
			forged, _, _ := checkpointed(t, guess, len(recs))
			out, err := forged.QueryAudit(context.Background(), store.AuditQuery{Chain: "n1/acme"})
			if err != nil {
				t.Fatal(err)
			}
			return rewritten(t, out)
		}},
		{"forged linked append past the checkpoint", func(t *testing.T, st *memory.Store, recs []agenttrust.AuditRecord) store.Store {
			f := recs[len(recs)-1]
			f.Seq++
			f.PrevHash = f.Hash
			f.Hash = sha256.Sum256(append(f.PrevHash[:], f.Reason...)) // no key to make it with
			if err := st.AppendAudit(context.Background(), []agenttrust.AuditRecord{f}); err != nil {
				t.Fatal(err)
			}
			return st
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, _, path := checkpointed(t, key, 4)
			recs, err := st.QueryAudit(context.Background(), store.AuditQuery{Chain: "n1/acme"})
			if err != nil {
				t.Fatal(err)
			}
			bad := tc.tamper(t, st, recs)
			cps, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: key})
			if err != nil {
				t.Fatal(err)
			}
			defer cps.Close()
			var ce *agenttrust.ChainError
			if err := cps.Check(context.Background(), bad, "n1/acme"); !errors.As(err, &ce) {
				t.Errorf("Check: %v, want a *agenttrust.ChainError", err)
			}
			c, err := agenttrust.New(bad, agenttrust.WithAudit(agenttrust.AuditConfig{Key: key, Chain: "n1/acme"}), agenttrust.WithTenant("acme"), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{cps.StoreSink(bad)}}))
			if err == nil {
				d, _ := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
				c.Close()
				t.Fatalf("a client continued the tampered chain (decision %v)", d.Effect)
			}
			if !errors.As(err, &ce) || !errors.Is(err, agenttrust.ErrChainBroken) {
				t.Fatalf("New: %v, want a *agenttrust.ChainError", err)
			}
		})
	}
}

// rewritten returns a store holding recs as the whole audit trail.
func rewritten(t *testing.T, recs []agenttrust.AuditRecord) store.Store {
	t.Helper()
	st := memory.New()
	if len(recs) > 0 {
		if err := st.AppendAudit(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestAuditCheckpointRecordsPastIt: a node that stopped after storing a
// batch but before checkpointing it leaves records past the checkpoint;
// made under the key, they verify and the chain goes on.
func TestAuditCheckpointRecordsPastIt(t *testing.T) {
	key := mustAuditKey(t, attackSecret)
	st, _, path := checkpointed(t, key, 3)
	// More records of the chain, stored without a checkpoint.
	c, err := agenttrust.New(st, agenttrust.WithAudit(agenttrust.AuditConfig{Key: key, Chain: "n1/acme"}), agenttrust.WithTenant("acme"), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{NewStoreSink(st)}}))
	if err != nil {
		t.Fatal(err)
	}
	// One with a request id: the stored chain verifies with it (the MAC
	// covers it, and the store gives it back).
	c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.read", RequestID: "abc-123"})
	c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	cps, err := OpenCheckpoints(CheckpointConfig{Path: path, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer cps.Close()
	if cp, _ := cps.Latest("n1/acme"); cp.Seq != 3 {
		t.Fatalf("checkpoint at %d, want 3", cp.Seq)
	}
	if err := VerifyStoredChain(context.Background(), st, "n1/acme", key, cps); err != nil {
		t.Fatalf("records past the checkpoint: %v", err)
	}
	c, err = agenttrust.New(st, agenttrust.WithAudit(agenttrust.AuditConfig{Key: key, Chain: "n1/acme"}), agenttrust.WithTenant("acme"), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{cps.StoreSink(st)}}))
	if err != nil {
		t.Fatalf("New over records past the checkpoint: %v", err)
	}
	c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if cp, _ := cps.Latest("n1/acme"); cp.Seq != 6 {
		t.Errorf("checkpoint at %d after the next batch, want 6", cp.Seq)
	}
	if err := VerifyStoredChain(context.Background(), st, "n1/acme", key, cps); err != nil {
		t.Fatal(err)
	}
}
