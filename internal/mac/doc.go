// Package mac is a zero-allocation codec and verifier for macaroons in the
// V2 binary format, byte-compatible with gopkg.in/macaroon.v2 and
// libmacaroons, restricted to first-party caveats.
//
// # Format
//
// A V2 macaroon is a version byte (2) followed by packets. A packet is
// fieldType(uvarint) length(uvarint) data, except EOS, which is the single
// byte 0:
//
//	2
//	[location] identifier EOS         header; location only if non-empty
//	( identifier EOS )*               one section per first-party caveat
//	EOS
//	signature                         field 6, always 32 bytes
//
// Field types are location=1, identifier=2, verification id=4 (third-party
// caveats only, rejected here) and signature=6.
//
// # Signature chain
//
//	k    = HMAC-SHA256(key="macaroons-key-generator", msg=rootKey)
//	sig0 = HMAC-SHA256(k, identifier)
//	sigI = HMAC-SHA256(sig(I-1), caveat I)
//
// The location is not part of the chain: it is an unauthenticated hint, and
// anyone can change it without invalidating the signature. Callers that rely
// on it must compare it with the value they expect.
//
// # Strictness
//
// [Decode] accepts exactly the canonical encoding that gopkg.in/macaroon.v2
// and [Builder] produce, so Decode followed by [Macaroon.AppendBinary]
// reproduces the input byte for byte. It rejects what the library tolerates:
// trailing bytes, over-long varints, an empty location packet, and any
// verification-id field (even an empty one, which the library silently
// treats as a first-party caveat). It also enforces [MaxSize] and
// [MaxCaveats]. Every error is a preallocated sentinel, so rejecting a
// forged token allocates nothing either.
//
// # Phases
//
// Decoding yields unverified data. [Verify] checks the signature chain only;
// the caller must then evaluate every caveat and fail on any it does not
// understand. Attenuation ([Attenuate]) appends caveats and re-chains from
// the current signature, so it needs no root key and can only narrow.
//
// # Concurrency and allocation
//
// [Decode] and [Verify] allocate nothing. [Verify] uses a [Hasher], reusable
// HMAC state that is not safe for concurrent use: keep one per goroutine or
// in a sync.Pool. A decoded [Macaroon] holds slices into the input buffer,
// which must not change while the Macaroon is in use.
package mac
