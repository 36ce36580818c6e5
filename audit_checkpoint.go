package agenttrust

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// AuditCheckpoint says that a chain had reached Seq, whose record's Hash
// was Head, at Time.
type AuditCheckpoint struct {
	Chain  string
	Tenant string
	Seq    uint64
	Head   store.Hash
	Time   time.Time
}

// CheckpointConfig configures OpenAuditCheckpoints.
type CheckpointConfig struct {
	// Path is the checkpoint file. Keep it where the audit store's
	// writers cannot write, beside the audit key.
	Path string
	// Key is the audit key of the chains; it also MACs the file.
	Key AuditKey
	// Interval is the most time between a batch being stored and its
	// checkpoint reaching the file; 0 writes the file after every batch.
	Interval time.Duration
	// Clock dates the checkpoints (the system clock when nil).
	Clock Clock
}

// AuditCheckpoints keeps, in a file out of the audit store's reach, the
// latest head of every chain this process writes, MACed with the audit
// key. Records cut from the end of a chain, or a whole chain deleted, are
// seen by comparing the store with it (Check); records after the last
// checkpoint, which a process that stopped abruptly may leave, still have
// to verify under the key. The file is replaced atomically. What it cannot
// see: records written in the last Interval before the process stopped
// and then cut from the store, and a writer who can also replace the file
// with an older one of its own. Safe for concurrent use. Make one with
// OpenAuditCheckpoints; the zero AuditCheckpoints is not usable.
type AuditCheckpoints struct {
	path     string
	key      AuditKey
	mac      [32]byte
	clock    Clock
	interval time.Duration

	mu    sync.Mutex
	heads map[string]AuditCheckpoint
	dirty bool
	saved time.Time
	err   error // the last failed save, until one succeeds
	stop  chan struct{}
	done  chan struct{}
}

// checkpointFile is the file's JSON form.
type checkpointFile struct {
	Version     int              `json:"version"`
	Checkpoints []checkpointJSON `json:"checkpoints"`
	MAC         store.Hash       `json:"mac"`
}

type checkpointJSON struct {
	Chain  string     `json:"chain"`
	Tenant string     `json:"tenant"`
	Seq    uint64     `json:"seq"`
	Head   store.Hash `json:"head"`
	Time   time.Time  `json:"time"`
}

// maxCheckpointFile bounds the file read at open.
const maxCheckpointFile = 64 << 20

// CreateAuditCheckpoints creates an empty checkpoint file at path, mode
// 0600. It never replaces a file: when path exists the error wraps
// fs.ErrExist.
func CreateAuditCheckpoints(path string, key AuditKey) error {
	if key.IsZero() {
		return fmt.Errorf("%w: audit checkpoints need the audit key", ErrInvalidConfig)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuditCheckpoint, err)
	}
	f.Close()
	c := &AuditCheckpoints{path: path, key: key, mac: key.derive("checkpoints", ""), heads: map[string]AuditCheckpoint{}}
	if err := c.save(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// OpenAuditCheckpoints reads the checkpoint file and checks its MAC. A
// missing file is an error wrapping ErrAuditCheckpoint and fs.ErrNotExist
// (create one with CreateAuditCheckpoints); so is a file whose MAC does
// not verify under the key, or that others may write. Close it to write
// the last checkpoints.
func OpenAuditCheckpoints(cfg CheckpointConfig) (*AuditCheckpoints, error) {
	switch {
	case cfg.Key.IsZero():
		return nil, fmt.Errorf("%w: audit checkpoints need the audit key", ErrInvalidConfig)
	case cfg.Path == "":
		return nil, fmt.Errorf("%w: no audit checkpoint file", ErrInvalidConfig)
	case cfg.Interval < 0:
		return nil, fmt.Errorf("%w: negative audit checkpoint interval", ErrInvalidConfig)
	}
	if cfg.Clock == nil {
		cfg.Clock = newSystemClock()
	}
	c := &AuditCheckpoints{
		path: cfg.Path, key: cfg.Key, mac: cfg.Key.derive("checkpoints", ""), clock: cfg.Clock, interval: cfg.Interval,
		heads: map[string]AuditCheckpoint{},
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.saved = c.clock.Now()
	if c.interval > 0 {
		c.stop, c.done = make(chan struct{}), make(chan struct{})
		go c.run(c.stop)
	}
	return c, nil
}

func (c *AuditCheckpoints) load() error {
	f, err := os.Open(c.path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuditCheckpoint, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuditCheckpoint, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrAuditCheckpoint, c.path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s may be written by group or others (mode %04o)", ErrAuditCheckpoint, c.path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCheckpointFile+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuditCheckpoint, err)
	}
	if len(data) > maxCheckpointFile {
		return fmt.Errorf("%w: %s is too large", ErrAuditCheckpoint, c.path)
	}
	var cf checkpointFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cf); err != nil || dec.More() {
		return fmt.Errorf("%w: %s is malformed", ErrAuditCheckpoint, c.path)
	}
	if cf.Version != 1 {
		return fmt.Errorf("%w: %s has unsupported version %d", ErrAuditCheckpoint, c.path, cf.Version)
	}
	for _, e := range cf.Checkpoints {
		if _, dup := c.heads[e.Chain]; dup || e.Chain == "" || e.Seq == 0 {
			return fmt.Errorf("%w: %s has an empty, zero or repeated chain", ErrAuditCheckpoint, c.path)
		}
		c.heads[e.Chain] = AuditCheckpoint(e)
	}
	if want := c.sum(); !hmac.Equal(want[:], cf.MAC[:]) {
		return fmt.Errorf("%w: %s does not verify under the audit key (edited, or made with another key)", ErrAuditCheckpoint, c.path)
	}
	return nil
}

// sorted returns the checkpoints in chain order. Call with c.mu held (or
// before c is shared).
func (c *AuditCheckpoints) sorted() []AuditCheckpoint {
	out := make([]AuditCheckpoint, 0, len(c.heads))
	for _, h := range c.heads {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b AuditCheckpoint) int { return cmp.Compare(a.Chain, b.Chain) })
	return out
}

// sum is the MAC of the checkpoints, in chain order.
func (c *AuditCheckpoints) sum() store.Hash {
	b := []byte("agenttrust/checkpoints/v1")
	for _, h := range c.sorted() {
		b = putS(b, h.Chain)
		b = putS(b, h.Tenant)
		b = binary.AppendUvarint(b, h.Seq)
		b = append(b, h.Head[:]...)
		b = binary.AppendVarint(b, h.Time.UnixNano())
	}
	var h store.Hash
	sumMAC(hmac.New(sha256.New, c.mac[:]), b, &h)
	return h
}

// save writes the file: a new file beside it, synced, renamed over it.
// Call with c.mu held (or before c is shared).
func (c *AuditCheckpoints) save() error {
	cf := checkpointFile{Version: 1, Checkpoints: []checkpointJSON{}, MAC: c.sum()}
	for _, h := range c.sorted() {
		cf.Checkpoints = append(cf.Checkpoints, checkpointJSON(h))
	}
	data, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuditCheckpoint, err)
	}
	tmp := c.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuditCheckpoint, err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, c.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: write %s: %w", ErrAuditCheckpoint, c.path, err)
	}
	if d, err := os.Open(filepath.Dir(c.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// run writes pending checkpoints every interval.
func (c *AuditCheckpoints) run(stop <-chan struct{}) {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			c.mu.Lock()
			c.flushLocked()
			c.mu.Unlock()
		}
	}
}

func (c *AuditCheckpoints) flushLocked() error {
	if !c.dirty {
		return c.err
	}
	if err := c.save(); err != nil {
		c.err = err
		return err
	}
	c.dirty, c.err, c.saved = false, nil, c.clock.Now()
	return nil
}

// Record notes that chain (of tenant) has reached seq with head, once the
// records up to it are stored. A checkpoint never moves back. The file is
// written now when Interval has passed since it last was, or is 0; an
// error says it could not be.
func (c *AuditCheckpoints) Record(chain, tenant string, seq uint64, head store.Hash) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.heads[chain]; ok && seq <= cur.Seq {
		return c.err
	}
	now := c.clock.Now()
	c.heads[chain] = AuditCheckpoint{Chain: chain, Tenant: tenant, Seq: seq, Head: head, Time: now.UTC()}
	c.dirty = true
	if c.interval == 0 || now.Sub(c.saved) >= c.interval {
		return c.flushLocked()
	}
	return c.err
}

// Latest returns the checkpoint of chain, if there is one.
func (c *AuditCheckpoints) Latest(chain string) (AuditCheckpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.heads[chain]
	return h, ok
}

// Checkpoints returns every checkpoint, in chain order.
func (c *AuditCheckpoints) Checkpoints() []AuditCheckpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sorted()
}

// Flush writes pending checkpoints to the file now.
func (c *AuditCheckpoints) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

// Close stops the periodic writes and writes what is pending. Close the
// clients whose sinks use c first.
func (c *AuditCheckpoints) Close() error {
	if c.stop != nil {
		c.mu.Lock()
		stop := c.stop
		c.stop = nil
		c.mu.Unlock()
		if stop != nil {
			close(stop)
			<-c.done
		}
	}
	return c.Flush()
}

// Check compares the stored chain with its checkpoint: the store must
// hold the chain up to at least the checkpoint, its record at the
// checkpoint must be the one checkpointed, and every record after it
// must verify under the key and link up to the stored head. A chain with
// no checkpoint has its head record verified. A break is a *ChainError
// (matching ErrChainBroken); a store failure is returned as it is.
func (c *AuditCheckpoints) Check(ctx context.Context, st store.Audit, chain string) error {
	cp, ok := c.Latest(chain)
	head, err := st.AuditHead(ctx, chain)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if ok {
			return &ChainError{Seq: cp.Seq, Msg: fmt.Sprintf("chain %q has no records, but its checkpoint is at seq %d (records deleted)", chain, cp.Seq)}
		}
		return nil
	case err != nil:
		return err
	}
	if ok && head.Seq < cp.Seq {
		return &ChainError{Seq: head.Seq, Msg: fmt.Sprintf("chain %q ends at seq %d, before its checkpoint at seq %d (records cut from the end)", chain, head.Seq, cp.Seq)}
	}
	from := head.Seq
	if ok {
		from = cp.Seq
	}
	var prev *AuditRecord
	next := from
	for next <= head.Seq {
		recs, err := st.QueryAudit(ctx, store.AuditQuery{Chain: chain, AfterSeq: next - 1, Limit: 1000})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return &ChainError{Seq: next, Msg: fmt.Sprintf("chain %q: record %d is missing below the stored head at seq %d", chain, next, head.Seq)}
		}
		if next == from {
			if recs[0].Seq != from {
				return &ChainError{Seq: from, Msg: fmt.Sprintf("chain %q: record %d is missing", chain, from)}
			}
			if ok && recs[0].Hash != cp.Head {
				return &ChainError{Seq: from, Msg: fmt.Sprintf("chain %q: record %d is not the one checkpointed (rewritten)", chain, from)}
			}
		}
		check := recs
		if prev != nil {
			check = append([]AuditRecord{*prev}, recs...)
		}
		if err := VerifyChain(check, c.key); err != nil {
			return err
		}
		last := recs[len(recs)-1]
		prev, next = &last, last.Seq+1
	}
	if prev == nil || prev.Seq != head.Seq || prev.Hash != head.Hash {
		return &ChainError{Seq: head.Seq, Msg: fmt.Sprintf("chain %q: the stored head is not the chain's last record", chain)}
	}
	return nil
}

// StoreSink returns a sink like NewStoreSink(st) that checkpoints every
// batch it stores, and whose AuditHead, read by a client continuing its
// chain, first checks the stored chain against its checkpoint: a client
// does not continue a chain cut or rewritten in the store, and New fails
// with an error matching ErrChainBroken.
func (c *AuditCheckpoints) StoreSink(st store.Audit) AuditSink {
	return &checkpointSink{StoreSink: StoreSink{st: st}, cp: c}
}

type checkpointSink struct {
	StoreSink
	cp *AuditCheckpoints
}

// Write implements AuditSink.
func (s *checkpointSink) Write(ctx context.Context, recs []AuditRecord) error {
	if err := s.StoreSink.Write(ctx, recs); err != nil || len(recs) == 0 {
		return err
	}
	last := &recs[len(recs)-1]
	return s.cp.Record(last.Chain, last.Tenant, last.Seq, last.Hash)
}

// AuditHead checks chain against its checkpoint, then returns its
// newest record.
func (s *checkpointSink) AuditHead(ctx context.Context, chain string) (AuditRecord, error) {
	if err := s.cp.Check(ctx, s.st, chain); err != nil {
		return AuditRecord{}, err
	}
	return s.st.AuditHead(ctx, chain)
}

// VerifyStoredChain reads chain from st in full and checks it: it starts
// at seq 1, every record verifies under key and links to the one before,
// it ends at the stored head and, when cps is not nil and holds a
// checkpoint of chain, it reaches the checkpoint and holds the
// checkpointed record there. A break is a *ChainError (matching
// ErrChainBroken); a store failure is returned as it is. An empty chain
// with no checkpoint verifies.
func VerifyStoredChain(ctx context.Context, st store.Audit, chain string, key AuditKey, cps *AuditCheckpoints) error {
	var cp AuditCheckpoint
	var hasCP bool
	if cps != nil {
		cp, hasCP = cps.Latest(chain)
	}
	var prev *AuditRecord
	q := store.AuditQuery{Chain: chain, Limit: 1000}
	for {
		recs, err := st.QueryAudit(ctx, q)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		if prev == nil && recs[0].Seq != 1 {
			return &ChainError{Seq: recs[0].Seq, Msg: fmt.Sprintf("chain %q: records before seq %d are missing", chain, recs[0].Seq)}
		}
		check := recs
		if prev != nil {
			check = append([]AuditRecord{*prev}, recs...)
		}
		if err := VerifyChain(check, key); err != nil {
			return err
		}
		for i := range recs {
			if hasCP && recs[i].Seq == cp.Seq && recs[i].Hash != cp.Head {
				return &ChainError{Index: i, Seq: cp.Seq, Msg: fmt.Sprintf("chain %q: record %d is not the one checkpointed (rewritten)", chain, cp.Seq)}
			}
		}
		last := recs[len(recs)-1]
		prev = &last
		q.AfterSeq = last.Seq
	}
	head, err := st.AuditHead(ctx, chain)
	switch {
	case errors.Is(err, store.ErrNotFound) && prev == nil:
		if hasCP {
			return &ChainError{Seq: cp.Seq, Msg: fmt.Sprintf("chain %q has no records, but its checkpoint is at seq %d (records deleted)", chain, cp.Seq)}
		}
		return nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	case err != nil || prev == nil || head.Seq != prev.Seq || head.Hash != prev.Hash:
		return &ChainError{Msg: fmt.Sprintf("chain %q: the stored head is not the chain's last record", chain)}
	}
	if hasCP && prev.Seq < cp.Seq {
		return &ChainError{Seq: prev.Seq, Msg: fmt.Sprintf("chain %q ends at seq %d, before its checkpoint at seq %d (records cut from the end)", chain, prev.Seq, cp.Seq)}
	}
	return nil
}
