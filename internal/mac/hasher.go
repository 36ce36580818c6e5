package mac

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"hash"
)

// keyGenerator keys the HMAC that turns a variable-length root key into the
// fixed 32-byte key of the chain, as libmacaroons and gopkg.in/macaroon.v2 do.
const keyGenerator = "macaroons-key-generator"

// Hasher holds reusable HMAC-SHA256 state for the signature chain, so that
// [Verify], [Attenuate] and [Builder] allocate nothing per call once the
// Hasher has been used.
//
// crypto/hmac fixes its key at construction, but the chain re-keys at every
// step with the previous signature. Hasher therefore keeps one crypto/hmac
// instance for the constant key-derivation key (its Reset restores the
// precomputed pads) and computes the chain steps as
// SHA-256((k^opad) || SHA-256((k^ipad) || msg)) on a single reused SHA-256.
//
// The zero Hasher is ready to use; its first use allocates. A Hasher is not
// safe for concurrent use: keep one per goroutine or in a sync.Pool.
type Hasher struct {
	keyGen hash.Hash                            // HMAC-SHA256 keyed with keyGenerator
	sha    hash.Hash                            // plain SHA-256 for the chain steps
	in     []byte                               // k^ipad || msg
	out    [sha256.BlockSize + sha256.Size]byte // k^opad || inner hash
	sum    [sha256.Size]byte
	// root holds a copy of the root key while it is hashed: written
	// through the hash.Hash interface, the caller's key would have to be
	// on the heap, costing every Verify an allocation.
	root []byte
}

func (h *Hasher) init() {
	if h.sha == nil {
		h.keyGen = hmac.New(sha256.New, []byte(keyGenerator))
		h.sha = sha256.New()
	}
}

// deriveKey returns HMAC-SHA256(keyGenerator, rootKey).
func (h *Hasher) deriveKey(rootKey []byte) [sha256.Size]byte {
	h.root = append(h.root[:0], rootKey...)
	h.keyGen.Reset()
	h.keyGen.Write(h.root)
	h.keyGen.Sum(h.sum[:0])
	return h.sum
}

// step returns HMAC-SHA256(key, msg). key is passed by value because h.sum
// is overwritten before the outer pad is built. Each hash is written in
// one piece, the pad and what follows it side by side.
func (h *Hasher) step(key [sha256.Size]byte, msg []byte) [sha256.Size]byte {
	n := sha256.BlockSize + len(msg)
	if cap(h.in) < n {
		h.in = make([]byte, n)
	}
	in := h.in[:n]
	padKey(in[:sha256.BlockSize], &key, ipad)
	copy(in[sha256.BlockSize:], msg)
	h.sha.Reset()
	h.sha.Write(in)
	h.sha.Sum(h.out[sha256.BlockSize:sha256.BlockSize])

	padKey(h.out[:sha256.BlockSize], &key, opad)
	h.sha.Reset()
	h.sha.Write(h.out[:])
	h.sha.Sum(h.sum[:0])
	return h.sum
}

// The HMAC pads, eight bytes at a time.
const (
	ipad = 0x3636363636363636
	opad = 0x5c5c5c5c5c5c5c5c
)

// padKey sets dst (one block) to key XOR pad followed by pad, a word at a
// time: a byte at a time it was a sixth of each step.
func padKey(dst []byte, key *[sha256.Size]byte, pad uint64) {
	dst = dst[:sha256.BlockSize]
	for i := 0; i < sha256.Size; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(key[i:])^pad)
	}
	for i := sha256.Size; i < sha256.BlockSize; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], pad)
	}
}

// wipe clears the scratch buffers, which hold intermediate signatures (a
// signature before the last caveat would let its holder drop that caveat).
func (h *Hasher) wipe() {
	clear(h.in[:cap(h.in)])
	clear(h.out[:])
	clear(h.sum[:])
	clear(h.root)
}

// chain computes the signature of id and caveats under rootKey. For each
// at[k] (ascending caveat indices) it stores in before[k] the signature
// the chain had just before that caveat.
func (h *Hasher) chain(rootKey, id []byte, caveats [][]byte, at []int, before [][SignatureSize]byte) [SignatureSize]byte {
	h.init()
	sig := h.step(h.deriveKey(rootKey), id)
	k := 0
	for i, c := range caveats {
		if k < len(at) && at[k] == i {
			before[k] = sig
			k++
		}
		sig = h.step(sig, c)
	}
	h.wipe()
	return sig
}

// extend re-chains sig over more caveats; no root key is needed.
func (h *Hasher) extend(sig [SignatureSize]byte, caveats [][]byte) [SignatureSize]byte {
	h.init()
	for _, c := range caveats {
		sig = h.step(sig, c)
	}
	h.wipe()
	return sig
}

// Verify recomputes m's signature chain from rootKey and compares it with
// m's signature in constant time. It checks the signature only: the caller
// must then evaluate every caveat (m.Caveats) and reject the token if any
// fails or is not understood. The location is not covered.
//
// h may be nil, in which case Verify allocates a Hasher for this call.
// Verify returns [ErrRootKey] for a root key shorter than [MinRootKeySize]
// and [ErrSignature] on mismatch. With a warm Hasher it allocates nothing.
func Verify(m *Macaroon, rootKey []byte, h *Hasher) error {
	return VerifyBefore(m, rootKey, h, nil, nil)
}

// VerifyBefore is Verify that also stores in before[k] the signature the
// chain had just before caveat at[k]: the key the macaroon's holder at
// that point signed with, which a later holder cannot compute (at must be
// ascending, and before at least as long). Those signatures are secrets:
// whoever holds one can remove every caveat after it. The caller must
// wipe them after use and expose at most a one-way function of them. On
// any error before holds zeros.
func VerifyBefore(m *Macaroon, rootKey []byte, h *Hasher, at []int, before [][SignatureSize]byte) error {
	if len(rootKey) < MinRootKeySize {
		return ErrRootKey
	}
	if len(before) < len(at) {
		return ErrMarks
	}
	for k, i := range at {
		if i < 0 || i >= m.n || (k > 0 && i <= at[k-1]) {
			return ErrMarks
		}
	}
	if h == nil {
		h = new(Hasher)
	}
	sig := h.chain(rootKey, m.id, m.caveats[:m.n], at, before)
	if subtle.ConstantTimeCompare(sig[:], m.sig[:]) != 1 {
		clear(before[:len(at)])
		return ErrSignature
	}
	return nil
}
