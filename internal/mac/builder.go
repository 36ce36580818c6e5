package mac

import (
	"fmt"
	"io"
	"log/slog"
)

// Builder mints a macaroon: [New], then [Builder.AddCaveat] for each
// caveat, then [Builder.AppendBinary]. It copies its inputs into its own
// encoding buffer, so callers may reuse theirs.
//
// The zero Builder is not usable; create one with New. A Builder is not safe
// for concurrent use. It holds the current signature, a secret, and redacts
// itself when printed or logged.
type Builder struct {
	buf []byte // version, header and caveat sections; no trailer
	n   int
	sig [SignatureSize]byte
	h   Hasher
}

// New starts a macaroon with the given root key, identifier and location
// hint. An empty location is omitted from the encoding, as the library does.
// New returns [ErrRootKey] for a root key shorter than [MinRootKeySize] and
// [ErrTooLarge] if the header alone would not fit in [MaxSize].
func New(rootKey, id []byte, location string) (*Builder, error) {
	if len(rootKey) < MinRootKeySize {
		return nil, ErrRootKey
	}
	size := 2 + packetSize(len(id)) + trailerSize
	if location != "" {
		size += packetSize(len(location))
	}
	if size > MaxSize {
		return nil, ErrTooLarge
	}
	b := &Builder{buf: make([]byte, 0, size+64)}
	b.buf = appendHeader(b.buf, []byte(location), id)
	b.sig = b.h.chain(rootKey, id, nil, nil, nil)
	return b, nil
}

// AddCaveat appends a first-party caveat and re-chains the signature. It
// returns [ErrTooManyCaveats] or [ErrTooLarge] (leaving b unchanged) if the
// macaroon would exceed [MaxCaveats] or [MaxSize].
func (b *Builder) AddCaveat(c []byte) error {
	if b.buf == nil {
		return ErrZeroBuilder
	}
	if b.n == MaxCaveats {
		return ErrTooManyCaveats
	}
	if len(b.buf)+packetSize(len(c))+1+trailerSize > MaxSize {
		return ErrTooLarge
	}
	b.buf = appendCaveat(b.buf, c)
	b.n++
	b.sig = b.h.extend(b.sig, [][]byte{c})
	return nil
}

// NumCaveats returns the number of caveats added so far.
func (b *Builder) NumCaveats() int { return b.n }

// Signature returns the current signature, the bearer secret.
func (b *Builder) Signature() [SignatureSize]byte { return b.sig }

// Size returns the length of the encoding AppendBinary would append.
func (b *Builder) Size() int { return len(b.buf) + trailerSize }

// AppendBinary implements encoding.BinaryAppender: it appends the V2 binary
// encoding of the macaroon built so far to dst. The Builder stays usable.
func (b *Builder) AppendBinary(dst []byte) ([]byte, error) {
	if b.buf == nil {
		return dst, ErrZeroBuilder
	}
	dst = append(dst, b.buf...)
	return appendTrailer(dst, &b.sig), nil
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (b *Builder) MarshalBinary() ([]byte, error) {
	return b.AppendBinary(make([]byte, 0, b.Size()))
}

const redactedBuilder = "mac.Builder{REDACTED}"

// String returns a redacted placeholder.
func (b Builder) String() string { return redactedBuilder }

// GoString returns a redacted placeholder.
func (b Builder) GoString() string { return redactedBuilder }

// Format implements fmt.Formatter so that no verb prints the signature.
func (b Builder) Format(f fmt.State, _ rune) { io.WriteString(f, redactedBuilder) }

// LogValue implements slog.LogValuer with a redacted placeholder.
func (b Builder) LogValue() slog.Value { return slog.StringValue(redactedBuilder) }

// MarshalJSON encodes a redacted placeholder; use AppendBinary to serialize.
func (b Builder) MarshalJSON() ([]byte, error) {
	return []byte(`"` + redactedBuilder + `"`), nil
}

// Attenuate appends to dst the encoding of token with caveats added after
// its existing ones, re-chaining the signature from token's signature. It
// needs no root key and works offline: whoever holds a token can narrow it,
// never widen it. token must be a canonical V2 macaroon as Decode accepts;
// its signature is not checked (it cannot be without the root key), so a
// forged token stays forged.
//
// dst must not overlap token. h may be nil, in which case Attenuate
// allocates a Hasher for this call. With a warm Hasher and enough capacity
// in dst it allocates nothing. It returns Decode's errors for token, and
// [ErrTooManyCaveats] or [ErrTooLarge] if the result would exceed the limits;
// on error dst is returned unchanged.
func Attenuate(dst, token []byte, h *Hasher, caveats ...[]byte) ([]byte, error) {
	var m Macaroon
	if err := Decode(token, &m); err != nil {
		return dst, err
	}
	if len(caveats) > MaxCaveats-m.n {
		return dst, ErrTooManyCaveats
	}
	size := len(token)
	for _, c := range caveats {
		if size += packetSize(len(c)) + 1; size > MaxSize {
			return dst, ErrTooLarge
		}
	}
	if h == nil {
		h = new(Hasher)
	}
	sig := h.extend(m.sig, caveats)
	dst = append(dst, token[:len(token)-trailerSize]...)
	for _, c := range caveats {
		dst = appendCaveat(dst, c)
	}
	return appendTrailer(dst, &sig), nil
}
