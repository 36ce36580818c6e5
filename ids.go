package agenttrust

import (
	"encoding/binary"
	"io"
	"sync/atomic"
	"time"
)

// idSource makes time-ordered DecisionIDs: 48 bits of Unix milliseconds,
// the version nibble and 12 random bits fixed per client, then the variant
// and a 62-bit counter that starts at a random value. One atomic add per
// ID: IDs from one client are unique and ordered by (millisecond, issue
// order); clients sharing a store differ in their random parts.
type idSource struct {
	seq  atomic.Uint64
	node uint16 // 12 random bits
	// A cache line of its own: every check adds to seq, and a neighbour
	// written by the audit flusher would bounce the line between cores.
	_ [64 - 8 - 2]byte
}

func newIDSource(r io.Reader) (*idSource, error) {
	var b [10]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, err
	}
	s := &idSource{node: binary.BigEndian.Uint16(b[0:2]) & 0x0fff}
	s.seq.Store(binary.BigEndian.Uint64(b[2:10]) >> 3) // leave room to count
	return s, nil
}

func (s *idSource) next(now time.Time) DecisionID {
	ms := uint64(now.UnixMilli())
	n := s.seq.Add(1)
	var id DecisionID
	binary.BigEndian.PutUint64(id[0:8], ms<<16|0x7000|uint64(s.node))
	binary.BigEndian.PutUint64(id[8:16], 0x8000000000000000|n&0x3fffffffffffffff)
	return id
}
