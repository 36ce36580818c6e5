package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
)

// Wire format constants.
const (
	// Prefix starts every API key.
	Prefix = "atk_"
	// RandomLen is the number of random base62 characters after the prefix.
	RandomLen = 30
	// ChecksumLen is the number of base62 characters of the CRC-32 checksum.
	ChecksumLen = 6
	// Len is the length of an API key in bytes.
	Len = len(Prefix) + RandomLen + ChecksumLen
)

// alphabet is base62 in ASCII order, so '0' is the digit zero used to
// left-pad the checksum.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// acceptBelow is the largest multiple of 62 that fits in a byte: bytes at or
// above it are discarded so that v%62 is uniform.
const acceptBelow = 256 / len(alphabet) * len(alphabet) // 248

// maxRandomBytes bounds how many bytes Generate reads before it gives up on
// a source that keeps producing rejected bytes. An honest source needs about
// 31; needing more than 1024 has probability far below 2^-1000.
const maxRandomBytes = 1024

// redacted is what a Key prints instead of the secret. It is too short to
// match a scanner's pattern for a real key.
const redacted = Prefix + "REDACTED"

// Generate returns a new API key built from the bytes of r, which should be a
// cryptographically secure source. A nil r means crypto/rand.Reader. The
// result is a secret: show it to its owner once and store only [Hash].
//
// Bytes are consumed in order; byte v becomes alphabet[v%62] when v < 248 and
// is skipped otherwise. Generate reads exactly as many bytes as it keeps or
// skips, so a given stream always yields the same key.
func Generate(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var key [Len]byte
	copy(key[:], Prefix)
	random := key[len(Prefix) : len(Prefix)+RandomLen]
	var buf [RandomLen]byte
	n, read := 0, 0
	for n < RandomLen {
		need := RandomLen - n
		if read += need; read > maxRandomBytes {
			return "", errSource
		}
		if _, err := io.ReadFull(r, buf[:need]); err != nil {
			return "", fmt.Errorf("agenttrust: api key: reading random source: %w", err)
		}
		for _, v := range buf[:need] {
			if int(v) < acceptBelow {
				random[n] = alphabet[int(v)%len(alphabet)]
				n++
			}
		}
	}
	putChecksum(key[len(Prefix)+RandomLen:], checksum(string(random)))
	return string(key[:]), nil
}

// Key is a parsed, well-formed API key. It holds the secret key string and
// redacts itself wherever it could be printed or encoded: fmt (every verb),
// slog, JSON and text marshaling. The zero Key holds no secret. A Key is an
// immutable value, safe for concurrent use.
type Key struct {
	s string
}

// Parse checks s offline: the "atk_" prefix, the exact length, the base62
// alphabet and the checksum, in that order. It returns [ErrChecksum] for a
// well-formed key whose checksum does not match and an error matching
// [ErrMalformed] for anything else. Parse does not allocate.
func Parse(s string) (Key, error) {
	if len(s) < len(Prefix) || s[:len(Prefix)] != Prefix {
		return Key{}, errPrefix
	}
	if len(s) != Len {
		return Key{}, errLength
	}
	var sum uint64
	for i := len(Prefix); i < Len; i++ {
		d := digit(s[i])
		if d < 0 {
			return Key{}, errAlphabet
		}
		if i >= len(Prefix)+RandomLen {
			sum = sum*uint64(len(alphabet)) + uint64(d)
		}
	}
	if sum != uint64(checksum(s[len(Prefix):len(Prefix)+RandomLen])) {
		return Key{}, ErrChecksum
	}
	return Key{s: s}, nil
}

// Reveal returns the secret key string. Call it only to show the key to its
// owner or to send it as a credential; never log it.
func (k Key) Reveal() string { return k.s }

// Hash returns the SHA-256 digest of the key, the only form that is stored.
func (k Key) Hash() [sha256.Size]byte { return Hash(k.s) }

// String returns a redacted placeholder, never the secret.
func (k Key) String() string { return redacted }

// GoString returns a redacted placeholder, never the secret.
func (k Key) GoString() string { return "apikey.Key{" + redacted + "}" }

// Format implements fmt.Formatter so that no verb (%x, %d, %+v, ...) can
// print the secret: %#v prints [Key.GoString], every other verb [Key.String].
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, k.GoString())
		return
	}
	io.WriteString(f, redacted)
}

// LogValue implements slog.LogValuer with a redacted placeholder.
func (k Key) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON encodes the redacted placeholder as a JSON string.
func (k Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns the redacted placeholder, so that text-based encoders
// (YAML, TOML, map keys in JSON) cannot leak the secret either.
func (k Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Hash returns the SHA-256 digest of the whole key string s, prefix and
// checksum included. It does not validate s and does not allocate for
// strings of up to 64 bytes.
func Hash(s string) [sha256.Size]byte {
	if len(s) <= 64 {
		var buf [64]byte
		n := copy(buf[:], s)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(s))
}

// Equal reports whether two key hashes are equal, in time that does not
// depend on their contents.
func Equal(a, b [sha256.Size]byte) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// checksum is CRC-32 (IEEE) of s, computed without converting s to a slice
// so that Parse does not allocate. It equals crc32.ChecksumIEEE([]byte(s)).
func checksum(s string) uint32 {
	tab := crc32.IEEETable
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = tab[byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}

// putChecksum writes c as len(dst) base62 digits, most significant first,
// left-padded with '0'.
func putChecksum(dst []byte, c uint32) {
	v := uint64(c)
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = alphabet[v%uint64(len(alphabet))]
		v /= uint64(len(alphabet))
	}
}

// digit returns the base62 value of c, or -1 if c is not in the alphabet.
func digit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}
