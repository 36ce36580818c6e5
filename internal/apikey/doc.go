// Package apikey implements the wire format of agenttrust API keys.
//
// # Format
//
// An API key is 40 ASCII characters:
//
//	atk_ RRRRRRRRRRRRRRRRRRRRRRRRRRRRRR CCCCCC
//
// "atk_" is a fixed prefix that lets secret scanners spot leaked keys. R is
// 30 characters drawn uniformly from the base62 alphabet
// 0-9A-Za-z (about 178 bits of entropy). C is the CRC-32 (IEEE) checksum of
// the 30 random characters written as a fixed-width, big-endian base62
// number left-padded with '0'. The checksum lets [Parse] reject typos and
// truncated copies offline, before any store lookup; it is not a MAC and
// adds no security.
//
// # Generation
//
// [Generate] reads bytes from the given source one at a time, in order, and
// keeps byte v as alphabet[v%62] when v < 248 (= 4*62), discarding it
// otherwise (rejection sampling, so every character is exactly uniform).
// The same byte stream always yields the same key, which is what the golden
// vectors in testdata/ pin down.
//
// # Storage and comparison
//
// A key is stored only as its SHA-256 [Hash] and compared with [Equal], which
// runs in constant time. The key string is a secret: [Key] redacts itself in
// fmt, slog, JSON and text encodings; call [Key.Reveal] to get the secret,
// once, when it is shown to its owner.
//
// # Errors
//
// [Parse] returns [ErrMalformed] (wrong prefix, length or alphabet) or
// [ErrChecksum] (well formed, wrong checksum). ErrChecksum matches
// ErrMalformed under [errors.Is]. Error messages never contain the input.
package apikey
