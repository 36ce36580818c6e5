package audit

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/fileowner"
	"github.com/agenttrust/agenttrust/store"
)

// ErrCheckpoint: the audit checkpoint file is missing, unreadable, or
// does not verify under the audit key.
var ErrCheckpoint = errors.New("agenttrust: audit checkpoint file unusable")

// checkpointPurpose is what the checkpoint file's MAC is made for (see
// agenttrust.AuditKey.MAC).
const checkpointPurpose = "checkpoints"

// Checkpoint says that a chain had reached Seq, whose record's Hash
// was Head, at Time.
type Checkpoint struct {
	Chain  string
	Tenant string
	Seq    uint64
	Head   store.Hash
	Time   time.Time
}

// CheckpointConfig configures OpenCheckpoints.
type CheckpointConfig struct {
	// Path is the checkpoint file. Keep it where the audit store's
	// writers cannot write, beside the audit key.
	Path string
	// Key is the audit key of the chains; it also MACs the file.
	Key agenttrust.AuditKey
	// Interval is the most time between a batch being stored and its
	// checkpoint reaching the file; 0 writes the file after every batch.
	Interval time.Duration
	// Now dates the checkpoints (time.Now when nil).
	Now func() time.Time
}

// Checkpoints keeps, in a file out of the audit store's reach, the
// latest head of every chain this process writes, MACed with the audit
// key. Records cut from the end of a chain, or a whole chain deleted, are
// seen by comparing the store with it (Check); records after the last
// checkpoint, which a process that stopped abruptly may leave, still have
// to verify under the key. The file is replaced atomically. What it cannot
// see: records written in the last Interval before the process stopped
// and then cut from the store, and a writer who can also replace the file
// with an older one of its own. Safe for concurrent use. Make one with
// OpenCheckpoints; the zero Checkpoints is not usable.
type Checkpoints struct {
	path     string
	key      agenttrust.AuditKey
	now      func() time.Time
	interval time.Duration

	mu    sync.Mutex
	heads map[string]Checkpoint
	dirty bool
	saved time.Time
	err   error // the last failed save, until one succeeds
	stop  chan struct{}
	done  chan struct{}
	lock  *os.File // held from open to Close; nil where it cannot be taken
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

// CreateCheckpoints creates an empty checkpoint file at path, mode
// 0600. It never replaces a file: when path exists the error wraps
// fs.ErrExist.
func CreateCheckpoints(path string, key agenttrust.AuditKey) error {
	if key == (agenttrust.AuditKey{}) {
		return fmt.Errorf("%w: audit checkpoints need the audit key", agenttrust.ErrInvalidConfig)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	f.Close()
	c := &Checkpoints{path: path, key: key, heads: map[string]Checkpoint{}}
	if err := c.save(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// ResetCheckpoints starts over with an empty checkpoint file at path,
// keeping the old one, if any, beside it as path.replaced-<unix seconds
// of now> (with -2, -3... added when an earlier reset kept one of that
// name), whose name it returns ("" when there was none). A file another
// process holds open (OpenCheckpoints) is refused with ErrCheckpoint and
// left as it is: moving it aside would leave the running process's chains
// without checkpoints until it next writes the file.
func ResetCheckpoints(path string, key agenttrust.AuditKey, now time.Time) (string, error) {
	if key == (agenttrust.AuditKey{}) {
		return "", fmt.Errorf("%w: audit checkpoints need the audit key", agenttrust.ErrInvalidConfig)
	}
	lock, err := lockCheckpoints(lockName(path))
	if err != nil {
		return "", err
	}
	if lock != nil {
		defer lock.Close()
	}
	old := ""
	switch _, err := os.Lstat(path); {
	case err == nil:
		// Never over a file an earlier reset kept: it may be the only
		// record of what the chains held (two resets within a second).
		old = fmt.Sprintf("%s.replaced-%d", path, now.Unix())
		for n := 2; ; n++ {
			if _, err := os.Lstat(old); errors.Is(err, fs.ErrNotExist) {
				break
			} else if err != nil || n > 1000 {
				return "", fmt.Errorf("%w: reset: no free name beside %s", ErrCheckpoint, path)
			}
			old = fmt.Sprintf("%s.replaced-%d-%d", path, now.Unix(), n)
		}
		if err := os.Rename(path, old); err != nil {
			return "", fmt.Errorf("%w: reset: %w", ErrCheckpoint, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%w: reset: %w", ErrCheckpoint, err)
	}
	return old, CreateCheckpoints(path, key)
}

// lockName is the path the lock of the checkpoint file at path is named
// after: the file's own path with symbolic links resolved, or, while it
// does not exist, its directory's.
func lockName(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		return filepath.Join(dir, filepath.Base(path))
	}
	return path
}

// OpenCheckpoints reads the checkpoint file and checks its MAC. A
// missing file is an error wrapping ErrCheckpoint and fs.ErrNotExist
// (create one with CreateCheckpoints); so is a file whose MAC does
// not verify under the key, that others may write or another user owns,
// and so is one that another process holds open. Close it to write the last checkpoints and
// let another process open the file.
func OpenCheckpoints(cfg CheckpointConfig) (*Checkpoints, error) {
	switch {
	case cfg.Key == (agenttrust.AuditKey{}):
		return nil, fmt.Errorf("%w: audit checkpoints need the audit key", agenttrust.ErrInvalidConfig)
	case cfg.Path == "":
		return nil, fmt.Errorf("%w: no audit checkpoint file", agenttrust.ErrInvalidConfig)
	case cfg.Interval < 0:
		return nil, fmt.Errorf("%w: negative audit checkpoint interval", agenttrust.ErrInvalidConfig)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Checkpoints{
		path: cfg.Path, key: cfg.Key, now: cfg.Now, interval: cfg.Interval,
		heads: map[string]Checkpoint{},
	}
	// One process per file: two would each rewrite it from their own
	// memory, dropping the other's newest checkpoints. The lock is named
	// after the file's own path, so another name for it meets it too.
	real, err := filepath.EvalSymlinks(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if c.lock, err = lockCheckpoints(real); err != nil {
		return nil, err
	}
	if err := c.load(); err != nil {
		c.unlock()
		return nil, err
	}
	c.saved = c.now()
	if c.interval > 0 {
		c.stop, c.done = make(chan struct{}), make(chan struct{})
		go c.run(c.stop)
	}
	return c, nil
}

func (c *Checkpoints) load() error {
	f, err := os.Open(c.path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrCheckpoint, c.path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s may be written by group or others (mode %04o)", ErrCheckpoint, c.path, fi.Mode().Perm())
	}
	// Its owner writes it whatever its mode, and could put back an older
	// copy of its own.
	if uid, other := fileowner.Another(fi); other {
		return fmt.Errorf("%w: %s is owned by another user (uid %d)", ErrCheckpoint, c.path, uid)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCheckpointFile+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if len(data) > maxCheckpointFile {
		return fmt.Errorf("%w: %s is too large", ErrCheckpoint, c.path)
	}
	var cf checkpointFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cf); err != nil || dec.More() {
		return fmt.Errorf("%w: %s is malformed", ErrCheckpoint, c.path)
	}
	if cf.Version != 1 {
		return fmt.Errorf("%w: %s has unsupported version %d", ErrCheckpoint, c.path, cf.Version)
	}
	for _, e := range cf.Checkpoints {
		if _, dup := c.heads[e.Chain]; dup || e.Chain == "" || e.Seq == 0 {
			return fmt.Errorf("%w: %s has an empty, zero or repeated chain", ErrCheckpoint, c.path)
		}
		c.heads[e.Chain] = Checkpoint(e)
	}
	if want := c.sum(); !hmac.Equal(want[:], cf.MAC[:]) {
		return fmt.Errorf("%w: %s does not verify under the audit key (edited, or made with another key)", ErrCheckpoint, c.path)
	}
	return nil
}

// sorted returns the checkpoints in chain order. Call with c.mu held (or
// before c is shared).
func (c *Checkpoints) sorted() []Checkpoint {
	out := make([]Checkpoint, 0, len(c.heads))
	for _, h := range c.heads {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b Checkpoint) int { return cmp.Compare(a.Chain, b.Chain) })
	return out
}

// sum is the MAC of the checkpoints, in chain order.
func (c *Checkpoints) sum() store.Hash {
	b := []byte("agenttrust/checkpoints/v1")
	for _, h := range c.sorted() {
		b = appendString(b, h.Chain)
		b = appendString(b, h.Tenant)
		b = binary.AppendUvarint(b, h.Seq)
		b = append(b, h.Head[:]...)
		b = binary.AppendVarint(b, h.Time.UnixNano())
	}
	// The key is not zero (checked at open) and the purpose is not
	// reserved: MAC cannot fail.
	h, _ := c.key.MAC(checkpointPurpose, b)
	return h
}

// save writes the file: a new file beside it, synced, renamed over it.
// Call with c.mu held (or before c is shared).
func (c *Checkpoints) save() error {
	cf := checkpointFile{Version: 1, Checkpoints: []checkpointJSON{}, MAC: c.sum()}
	for _, h := range c.sorted() {
		cf.Checkpoints = append(cf.Checkpoints, checkpointJSON(h))
	}
	data, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	// A new file of a name nobody can guess, never one that exists: a
	// fixed name would write through a symbolic link, or into a file of
	// someone else's, planted there by whoever can create files in the
	// directory. CreateTemp makes it with mode 0600; set it again in
	// case an inherited ACL widened it.
	f, err := os.CreateTemp(filepath.Dir(c.path), filepath.Base(c.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(append(data, '\n'))
	}
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
		return fmt.Errorf("%w: write %s: %w", ErrCheckpoint, c.path, err)
	}
	if d, err := os.Open(filepath.Dir(c.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// run writes pending checkpoints every interval.
func (c *Checkpoints) run(stop <-chan struct{}) {
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

func (c *Checkpoints) flushLocked() error {
	if !c.dirty {
		return c.err
	}
	if err := c.save(); err != nil {
		c.err = err
		return err
	}
	c.dirty, c.err, c.saved = false, nil, c.now()
	return nil
}

// Record notes that chain (of tenant) has reached seq with head, once the
// records up to it are stored. A checkpoint never moves back. The file is
// written now when Interval has passed since it last was, or is 0; an
// error says it could not be.
func (c *Checkpoints) Record(chain, tenant string, seq uint64, head store.Hash) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.heads[chain]; ok && seq <= cur.Seq {
		return c.err
	}
	now := c.now()
	c.heads[chain] = Checkpoint{Chain: chain, Tenant: tenant, Seq: seq, Head: head, Time: now.UTC()}
	c.dirty = true
	if c.interval == 0 || now.Sub(c.saved) >= c.interval {
		return c.flushLocked()
	}
	return c.err
}

// Latest returns the checkpoint of chain, if there is one.
func (c *Checkpoints) Latest(chain string) (Checkpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.heads[chain]
	return h, ok
}

// Checkpoints returns every checkpoint, in chain order.
func (c *Checkpoints) Checkpoints() []Checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sorted()
}

// Flush writes pending checkpoints to the file now.
func (c *Checkpoints) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

// Close stops the periodic writes and writes what is pending. Close the
// clients whose sinks use c first.
func (c *Checkpoints) Close() error {
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
	err := c.Flush()
	c.unlock()
	return err
}

// unlock lets another process open the file.
func (c *Checkpoints) unlock() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// Check compares the stored chain with its checkpoint: the store must
// hold the chain up to at least the checkpoint, its record at the
// checkpoint must be the one checkpointed, and every record after it
// must verify under the key and link up to the stored head. A chain with
// no checkpoint has its head record verified. A break is a *ChainError
// (matching agenttrust.ErrChainBroken); a store failure is returned as it is.
func (c *Checkpoints) Check(ctx context.Context, st store.Audit, chain string) error {
	cp, ok := c.Latest(chain)
	head, err := st.AuditHead(ctx, chain)
	err = edited(chain, err)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if ok {
			return &agenttrust.ChainError{Seq: cp.Seq, Msg: fmt.Sprintf("chain %q has no records, but its checkpoint is at seq %d (records deleted)", chain, cp.Seq)}
		}
		return nil
	case err != nil:
		return err
	}
	if ok && head.Seq < cp.Seq {
		return &agenttrust.ChainError{Seq: head.Seq, Msg: fmt.Sprintf("chain %q ends at seq %d, before its checkpoint at seq %d (records cut from the end)", chain, head.Seq, cp.Seq)}
	}
	from := head.Seq
	if ok {
		from = cp.Seq
	}
	var prev *agenttrust.AuditRecord
	next := from
	for next <= head.Seq {
		recs, err := st.QueryAudit(ctx, store.AuditQuery{Chain: chain, AfterSeq: next - 1, Limit: 1000})
		if err != nil {
			return edited(chain, err)
		}
		recs = upTo(recs, head.Seq)
		if len(recs) == 0 {
			return &agenttrust.ChainError{Seq: next, Msg: fmt.Sprintf("chain %q: record %d is missing below the stored head at seq %d", chain, next, head.Seq)}
		}
		if next == from {
			if recs[0].Seq != from {
				return &agenttrust.ChainError{Seq: from, Msg: fmt.Sprintf("chain %q: record %d is missing", chain, from)}
			}
			if ok && recs[0].Hash != cp.Head {
				return &agenttrust.ChainError{Seq: from, Msg: fmt.Sprintf("chain %q: record %d is not the one checkpointed (rewritten)", chain, from)}
			}
		}
		check := recs
		if prev != nil {
			check = append([]agenttrust.AuditRecord{*prev}, recs...)
		}
		if err := agenttrust.VerifyChain(check, c.key); err != nil {
			return err
		}
		last := recs[len(recs)-1]
		prev, next = &last, last.Seq+1
	}
	if prev == nil || prev.Seq != head.Seq || prev.Hash != head.Hash {
		return &agenttrust.ChainError{Seq: head.Seq, Msg: fmt.Sprintf("chain %q: the stored head is not the chain's last record", chain)}
	}
	return nil
}

// StoreSink returns a sink like NewStoreSink(st) that checkpoints every
// batch it stores, and whose AuditHead, read by a client continuing its
// chain, first checks the stored chain against its checkpoint: a client
// does not continue a chain cut or rewritten in the store, and New fails
// with an error matching agenttrust.ErrChainBroken.
func (c *Checkpoints) StoreSink(st store.Audit) agenttrust.AuditSink {
	return &checkpointSink{StoreSink: StoreSink{st: st}, cp: c}
}

type checkpointSink struct {
	StoreSink
	cp *Checkpoints
}

// Write implements AuditSink.
func (s *checkpointSink) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	if err := s.StoreSink.Write(ctx, recs); err != nil || len(recs) == 0 {
		return err
	}
	last := &recs[len(recs)-1]
	return s.cp.Record(last.Chain, last.Tenant, last.Seq, last.Hash)
}

// AuditHead checks chain against its checkpoint, then returns its
// newest record.
func (s *checkpointSink) AuditHead(ctx context.Context, chain string) (agenttrust.AuditRecord, error) {
	if err := s.cp.Check(ctx, s.st, chain); err != nil {
		return agenttrust.AuditRecord{}, err
	}
	return s.st.AuditHead(ctx, chain)
}

// VerifyStoredChain reads chain from st in full and checks it: it starts
// at seq 1, every record verifies under key and links to the one before,
// it ends at the stored head and, when cps is not nil and holds a
// checkpoint of chain, it reaches the checkpoint and holds the
// checkpointed record there. A break is a *ChainError (matching
// agenttrust.ErrChainBroken); a store failure is returned as it is. An empty chain
// with no checkpoint verifies.
func VerifyStoredChain(ctx context.Context, st store.Audit, chain string, key agenttrust.AuditKey, cps *Checkpoints) error {
	var cp Checkpoint
	var hasCP bool
	if cps != nil {
		cp, hasCP = cps.Latest(chain)
	}
	// The head first: records appended while the chain is read (a node
	// writing it) lie past it, and are left for the next verify rather
	// than taken for a head that does not match.
	head, err := st.AuditHead(ctx, chain)
	err = edited(chain, err)
	empty := errors.Is(err, store.ErrNotFound)
	if err != nil && !empty {
		return err
	}
	var prev *agenttrust.AuditRecord
	q := store.AuditQuery{Chain: chain, Limit: 1000}
	for !empty {
		recs, err := st.QueryAudit(ctx, q)
		if err != nil {
			return edited(chain, err)
		}
		if recs = upTo(recs, head.Seq); len(recs) == 0 {
			break
		}
		if prev == nil && recs[0].Seq != 1 {
			return &agenttrust.ChainError{Seq: recs[0].Seq, Msg: fmt.Sprintf("chain %q: records before seq %d are missing", chain, recs[0].Seq)}
		}
		check := recs
		if prev != nil {
			check = append([]agenttrust.AuditRecord{*prev}, recs...)
		}
		if err := agenttrust.VerifyChain(check, key); err != nil {
			return err
		}
		for i := range recs {
			if hasCP && recs[i].Seq == cp.Seq && recs[i].Hash != cp.Head {
				return &agenttrust.ChainError{Index: i, Seq: cp.Seq, Msg: fmt.Sprintf("chain %q: record %d is not the one checkpointed (rewritten)", chain, cp.Seq)}
			}
		}
		last := recs[len(recs)-1]
		prev = &last
		q.AfterSeq = last.Seq
	}
	switch {
	case empty:
		if hasCP {
			return &agenttrust.ChainError{Seq: cp.Seq, Msg: fmt.Sprintf("chain %q has no records, but its checkpoint is at seq %d (records deleted)", chain, cp.Seq)}
		}
		return nil
	case prev == nil || head.Seq != prev.Seq || head.Hash != prev.Hash:
		return &agenttrust.ChainError{Msg: fmt.Sprintf("chain %q: the stored head is not the chain's last record", chain)}
	}
	if hasCP && prev.Seq < cp.Seq {
		return &agenttrust.ChainError{Seq: prev.Seq, Msg: fmt.Sprintf("chain %q ends at seq %d, before its checkpoint at seq %d (records cut from the end)", chain, prev.Seq, cp.Seq)}
	}
	return nil
}

// upTo returns the records of recs (in sequence order) up to seq: those
// past it were appended after the head at seq was read.
func upTo(recs []agenttrust.AuditRecord, seq uint64) []agenttrust.AuditRecord {
	for i := range recs {
		if recs[i].Seq > seq {
			return recs[:i]
		}
	}
	return recs
}

// edited turns a store's store.ErrCorrupt, a record of chain edited in
// the database in a way its MAC cannot show (a column of another type
// that filtered queries pass over), into the break of the chain it is;
// other errors are returned as they are.
func edited(chain string, err error) error {
	if errors.Is(err, store.ErrCorrupt) {
		return &agenttrust.ChainError{Msg: fmt.Sprintf("chain %q: %v", chain, err)}
	}
	return err
}

// appendString appends s, prefixed with its length as a uvarint.
func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}
