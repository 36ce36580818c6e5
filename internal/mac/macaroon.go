package mac

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
)

// Limits and sizes.
const (
	// MaxSize is the largest encoding, in bytes, that Decode accepts and
	// that Builder and Attenuate produce.
	MaxSize = 16 << 10
	// MaxCaveats is the largest number of caveats in one macaroon.
	MaxCaveats = 64
	// SignatureSize is the size of a macaroon signature.
	SignatureSize = sha256.Size
	// MinRootKeySize is the shortest root key New and Verify accept.
	MinRootKeySize = 16
)

// Wire constants of the V2 binary format.
const (
	version2 = 2

	fieldEOS            = 0
	fieldLocation       = 1
	fieldIdentifier     = 2
	fieldVerificationID = 4
	fieldSignature      = 6

	// trailerSize is the final EOS plus the signature packet: 0, 6, 32, sig.
	trailerSize = 3 + SignatureSize
)

// Macaroon is a decoded V2 macaroon with first-party caveats only. Its
// location, identifier and caveats are slices into the buffer given to
// [Decode]; it copies nothing and allocates nothing.
//
// Everything in a Macaroon is unverified until [Verify] returns nil for it,
// and the location stays unauthenticated even then.
//
// The zero Macaroon has no identifier, no caveats and a zero signature; it
// never verifies. A Macaroon is not safe for concurrent mutation (Decode)
// but may be read concurrently. It redacts itself when printed or logged:
// its signature is the bearer secret.
type Macaroon struct {
	location []byte
	id       []byte
	caveats  [MaxCaveats][]byte
	n        int
	// Offsets of id and caveats in the decoded buffer, so a caller can
	// take them as slices of one copy of it.
	idOff  int
	cavOff [MaxCaveats]int
	sig    [SignatureSize]byte
}

// Location returns the location hint, or nil if there is none. The location
// is not covered by the signature.
func (m *Macaroon) Location() []byte { return m.location }

// ID returns the identifier. It aliases the decoded buffer.
func (m *Macaroon) ID() []byte { return m.id }

// IDOffset returns where the identifier starts in the buffer m was
// decoded from.
func (m *Macaroon) IDOffset() int { return m.idOff }

// CaveatOffset returns where caveat i starts in the buffer m was decoded
// from, 0 <= i < NumCaveats.
func (m *Macaroon) CaveatOffset(i int) int { return m.cavOff[:m.n][i] }

// NumCaveats returns the number of caveats.
func (m *Macaroon) NumCaveats() int { return m.n }

// Caveat returns caveat i, 0 <= i < NumCaveats. It aliases the decoded buffer.
func (m *Macaroon) Caveat(i int) []byte { return m.caveats[:m.n][i] }

// Caveats returns the caveats in order. The result aliases m and the decoded
// buffer; do not modify it.
func (m *Macaroon) Caveats() [][]byte { return m.caveats[:m.n:m.n] }

// Signature returns the signature. It is the bearer secret of the token.
func (m *Macaroon) Signature() [SignatureSize]byte { return m.sig }

// Size returns the length of m's V2 binary encoding.
func (m *Macaroon) Size() int {
	n := 1 + 1 + packetSize(len(m.id))
	if len(m.location) > 0 {
		n += packetSize(len(m.location))
	}
	for _, c := range m.caveats[:m.n] {
		n += packetSize(len(c)) + 1
	}
	return n + trailerSize
}

// AppendBinary implements encoding.BinaryAppender: it appends m's V2 binary
// encoding to dst. For a Macaroon filled by Decode the result equals the
// decoded bytes. It never fails.
func (m *Macaroon) AppendBinary(dst []byte) ([]byte, error) {
	dst = appendHeader(dst, m.location, m.id)
	for _, c := range m.caveats[:m.n] {
		dst = appendCaveat(dst, c)
	}
	return appendTrailer(dst, &m.sig), nil
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *Macaroon) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, m.Size()))
}

const redacted = "mac.Macaroon{REDACTED}"

// String returns a redacted placeholder.
func (m Macaroon) String() string { return redacted }

// GoString returns a redacted placeholder.
func (m Macaroon) GoString() string { return redacted }

// Format implements fmt.Formatter so that no verb prints the signature.
func (m Macaroon) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer with a redacted placeholder.
func (m Macaroon) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON encodes a redacted placeholder; use AppendBinary to serialize.
func (m Macaroon) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// reset clears m without touching the caveat slots that were never used.
func (m *Macaroon) reset() {
	clear(m.caveats[:m.n])
	m.location, m.id, m.n, m.sig, m.idOff = nil, nil, 0, [SignatureSize]byte{}, 0
}

// Decode parses the V2 binary macaroon in b into m, reusing m's storage. m
// keeps slices into b. Decode allocates nothing and does not verify the
// signature: see [Verify].
//
// It returns [ErrTooLarge], [ErrTooManyCaveats], [ErrThirdPartyCaveat], or an
// error matching [ErrMalformed]. On error m is left zero.
func Decode(b []byte, m *Macaroon) error {
	m.reset()
	if err := decode(b, m); err != nil {
		m.reset()
		return err
	}
	return nil
}

func decode(b []byte, m *Macaroon) error {
	if len(b) > MaxSize {
		return ErrTooLarge
	}
	if len(b) == 0 {
		return ErrTruncated
	}
	if b[0] != version2 {
		return ErrVersion
	}
	d := decoder{b: b, p: 1}

	// Header: [location] identifier EOS.
	ft, err := d.field()
	if err != nil {
		return err
	}
	if ft == fieldLocation {
		if m.location, err = d.payload(); err != nil {
			return err
		}
		if len(m.location) == 0 {
			return ErrNonCanonical
		}
		if ft, err = d.field(); err != nil {
			return err
		}
	}
	if ft != fieldIdentifier {
		return fieldError(ft, fieldLocation)
	}
	if m.id, err = d.payload(); err != nil {
		return err
	}
	m.idOff = d.p - len(m.id)
	if ft, err = d.field(); err != nil {
		return err
	}
	if ft != fieldEOS {
		return fieldError(ft, fieldIdentifier)
	}

	// Caveat sections, ended by an empty section (a lone EOS).
	for {
		if ft, err = d.field(); err != nil {
			return err
		}
		if ft == fieldEOS {
			break
		}
		hasLocation := false
		if ft == fieldLocation {
			// Only third-party caveats carry a location; keep parsing to
			// report the right error.
			if _, err = d.payload(); err != nil {
				return err
			}
			hasLocation = true
			if ft, err = d.field(); err != nil {
				return err
			}
		}
		if ft != fieldIdentifier {
			return fieldError(ft, fieldLocation)
		}
		cid, err := d.payload()
		if err != nil {
			return err
		}
		cidOff := d.p - len(cid)
		if ft, err = d.field(); err != nil {
			return err
		}
		switch {
		case ft == fieldVerificationID:
			return ErrThirdPartyCaveat
		case ft != fieldEOS:
			return fieldError(ft, fieldIdentifier)
		case hasLocation:
			return ErrUnexpectedField
		case m.n == MaxCaveats:
			return ErrTooManyCaveats
		}
		m.caveats[m.n] = cid
		m.cavOff[m.n] = cidOff
		m.n++
	}

	// Signature.
	if ft, err = d.field(); err != nil {
		return err
	}
	if ft != fieldSignature {
		return fieldError(ft, -1)
	}
	sig, err := d.payload()
	if err != nil {
		return err
	}
	if len(sig) != SignatureSize {
		return ErrSignatureLength
	}
	copy(m.sig[:], sig)
	if d.p != len(b) {
		return ErrTrailingData
	}
	return nil
}

// fieldError classifies field type ft found where it was not expected; prev
// is the field read just before it in the same section (-1 if none).
func fieldError(ft, prev int) error {
	switch {
	case ft != fieldEOS && ft != fieldLocation && ft != fieldIdentifier &&
		ft != fieldVerificationID && ft != fieldSignature:
		return ErrUnknownField
	case ft == prev:
		return ErrDuplicateField
	}
	return ErrUnexpectedField
}

// decoder reads packets from b starting at p.
type decoder struct {
	b []byte
	p int
}

// uvarint reads a minimally encoded unsigned varint of at most 3 bytes
// (21 bits, far above MaxSize).
func (d *decoder) uvarint() (int, error) {
	x := 0
	for i := 0; i < 3; i++ {
		if d.p >= len(d.b) {
			return 0, ErrTruncated
		}
		c := d.b[d.p]
		d.p++
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, ErrNonCanonical // over-long: a trailing zero group
			}
			return x | int(c)<<(7*i), nil
		}
		x |= int(c&0x7f) << (7 * i)
	}
	// A fourth byte would encode a value of at least 2^21: a length beyond
	// any input Decode accepts, or a field type no format defines.
	return 0, ErrUnknownField
}

// field reads a packet's field type.
func (d *decoder) field() (int, error) { return d.uvarint() }

// payload reads a packet's length and returns its data.
func (d *decoder) payload() ([]byte, error) {
	n, err := d.uvarint()
	if err != nil {
		if err == ErrUnknownField {
			err = ErrTruncated
		}
		return nil, err
	}
	if n > len(d.b)-d.p {
		return nil, ErrTruncated
	}
	data := d.b[d.p : d.p+n : d.p+n]
	d.p += n
	return data, nil
}

// varintSize is the length of the uvarint encoding of n >= 0.
func varintSize(n int) int {
	s := 1
	for n >= 0x80 {
		n >>= 7
		s++
	}
	return s
}

// packetSize is the encoded size of a non-EOS packet with n bytes of data
// and a one-byte field type.
func packetSize(n int) int { return 1 + varintSize(n) + n }

func appendVarint(dst []byte, n int) []byte {
	for n >= 0x80 {
		dst = append(dst, byte(n)|0x80)
		n >>= 7
	}
	return append(dst, byte(n))
}

func appendPacket(dst []byte, ft byte, data []byte) []byte {
	dst = append(dst, ft)
	dst = appendVarint(dst, len(data))
	return append(dst, data...)
}

// appendHeader appends the version byte and the header section.
func appendHeader(dst, location, id []byte) []byte {
	dst = append(dst, version2)
	if len(location) > 0 {
		dst = appendPacket(dst, fieldLocation, location)
	}
	dst = appendPacket(dst, fieldIdentifier, id)
	return append(dst, fieldEOS)
}

// appendCaveat appends one first-party caveat section.
func appendCaveat(dst, c []byte) []byte {
	dst = appendPacket(dst, fieldIdentifier, c)
	return append(dst, fieldEOS)
}

// appendTrailer appends the end of the caveat sections and the signature.
func appendTrailer(dst []byte, sig *[SignatureSize]byte) []byte {
	dst = append(dst, fieldEOS, fieldSignature, SignatureSize)
	return append(dst, sig[:]...)
}
