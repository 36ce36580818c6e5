package agenttrust

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/mac"
	"github.com/agenttrust/agenttrust/observe"
)

// Attenuate narrows a token offline, with no client and no key: it adds a
// fresh "hop = <id>" caveat and the given caveats (in the grammar of
// package doc "Policy"), such as "tool in payments.charge",
// "attr.amount <= 50" or "expires < 2026-11-22T05:02:00Z". Every caveat
// must hold at every use, so the result can only do less than token: the
// macaroon chain makes removing a caveat impossible without the master
// key. A token may pass through at most 8 hops; a deeper one is
// refused with an error matching ErrUnauthorized.
//
// Attenuate does not verify token (it cannot, offline); a forged token
// stays forged. Nor is it recorded in any audit trail: no client sees
// it. Use Delegate for a narrowing the trail must show.
func Attenuate(token string, caveats ...string) (string, error) {
	tok, _, _, err := attenuate(token, rand.Reader, time.Time{}, caveats)
	return tok, err
}

// hopCaveatPrefix begins every hop caveat in its canonical text.
const hopCaveatPrefix = "hop = "

// hopIDDomain separates the hashes that bind hop ids from any other use
// of a token's signature.
const hopIDDomain = "agenttrust hop id v1\x00"

// A hop id is "hop_" and 16 bytes in base32: a nonce, whose first byte
// counts the caveats added with the hop and the rest is random (two hops
// added to one token differ), and a tag binding the nonce to the
// signature of the token the hop was added to and to those caveats.
const (
	hopNonceLen = 6
	hopTagLen   = 10
	hopIDLen    = 4 + 26
	// maxHopCaveats bounds the caveats one hop binds, which its nonce's
	// first byte counts.
	maxHopCaveats = 63
)

// appendHopID appends the id of a hop added with nonce, and followed by
// the caveats bound (nonce[0] of them), to a token whose signature is sig.
// The tag is SHA-256 of sig, the nonce and those caveats: only a holder of
// the token at that point knows sig, and the hash does not give it away,
// so a hop id names one point of one chain with the caveats that came
// with it. Nobody can append a hop caveat naming another chain's hop, a
// policy's, or an id of any other shape (that would mean finding an
// 80-bit tag), and the token's own holder cannot add a hop of a known id
// without the caveats its delegation added.
func appendHopID(dst []byte, sig *[mac.SignatureSize]byte, nonce *[hopNonceLen]byte, bound [][]byte) []byte {
	h := sha256.New()
	h.Write([]byte(hopIDDomain))
	h.Write(sig[:])
	h.Write(nonce[:])
	var n [binary.MaxVarintLen64]byte
	for _, c := range bound {
		h.Write(binary.AppendUvarint(n[:0], uint64(len(c))))
		h.Write(c)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var id [hopNonceLen + hopTagLen]byte
	copy(id[:], nonce[:])
	copy(id[hopNonceLen:], sum[:hopTagLen])
	dst = append(dst, "hop_"...)
	return idEncoding.AppendEncode(dst, id[:])
}

// hopBound reports whether id is the id of a hop added to a token whose
// signature was sig, with the caveats that follow it in after.
func hopBound(id string, sig *[mac.SignatureSize]byte, after [][]byte) bool {
	if len(id) != hopIDLen || !strings.HasPrefix(id, "hop_") {
		return false
	}
	var raw [hopNonceLen + hopTagLen + 1]byte // room for the decoder's last group
	n, err := idEncoding.Decode(raw[:], []byte(id[4:]))
	if err != nil || n != hopNonceLen+hopTagLen {
		return false
	}
	nonce := (*[hopNonceLen]byte)(raw[:hopNonceLen])
	k := int(nonce[0])
	if k > maxHopCaveats || k > len(after) {
		return false
	}
	var want [hopIDLen]byte
	got := appendHopID(want[:0], sig, nonce, after[:k])
	return subtle.ConstantTimeCompare(got, []byte(id)) == 1
}

// hopBinds returns how many caveats after it the hop id binds; id must
// have passed hopBound.
func hopBinds(id string) int {
	var raw [hopNonceLen + hopTagLen + 1]byte
	idEncoding.Decode(raw[:], []byte(id[4:]))
	return int(raw[0])
}

// attenuate adds a hop, an optional expiry and caveats to token and
// returns the new token, the hop's id and the canonical caveats it added.
// The hop's nonce is read from random.
func attenuate(token string, random io.Reader, expires time.Time, caveats []string) (tok, hop string, added []string, err error) {
	if len(token) > MaxCredentialSize {
		return "", "", nil, errs.CredentialTooLarge
	}
	if !strings.HasPrefix(token, TokenPrefix) {
		return "", "", nil, ErrMalformedCredential
	}
	raw, err := decodeTokenString(token[len(TokenPrefix):])
	if err != nil {
		return "", "", nil, err
	}
	var m mac.Macaroon
	if err := mac.Decode(raw, &m); err != nil {
		return "", "", nil, ErrMalformedCredential
	}
	hops := 0
	for i := range m.NumCaveats() {
		if strings.HasPrefix(string(m.Caveat(i)), hopCaveatPrefix) {
			hops++
		}
	}
	if hops >= maxDelegationDepth {
		return "", "", nil, fmt.Errorf("%w: token already has %d hops", errs.DelegationDepth, hops)
	}
	user, err := canonicalCaveats(caveats)
	if err != nil {
		return "", "", nil, err
	}
	// The hop caveat first, then what it binds: its expiry and caveats.
	added = []string{""}
	if !expires.IsZero() {
		added = append(added, "expires < "+expires.UTC().Format(time.RFC3339Nano))
	}
	added = append(added, user...)
	if len(added)-1 > maxHopCaveats {
		// Never so many: a token holds at most 64 caveats in all.
		return "", "", nil, fmt.Errorf("%w: more than %d caveats in one delegation", ErrInvalidRequest, maxHopCaveats)
	}
	bs := make([][]byte, len(added))
	for i, s := range added[1:] {
		bs[i+1] = []byte(s)
	}
	nonce := [hopNonceLen]byte{byte(len(added) - 1)}
	if _, err := io.ReadFull(random, nonce[1:]); err != nil {
		return "", "", nil, fmt.Errorf("agenttrust: read random source: %w", err)
	}
	sig := m.Signature()
	hop = string(appendHopID(nil, &sig, &nonce, bs[1:]))
	added[0] = eqCaveat("hop", hop)
	bs[0] = []byte(added[0])
	out, err := mac.Attenuate(nil, raw, nil, bs...)
	if err != nil {
		if err == mac.ErrTooLarge {
			return "", "", nil, errs.CredentialTooLarge
		}
		return "", "", nil, fmt.Errorf("%w: %w", ErrMalformedCredential, err)
	}
	if len(TokenPrefix)+base64.RawURLEncoding.EncodedLen(len(out)) > MaxCredentialSize {
		return "", "", nil, errs.CredentialTooLarge
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(out), hop, added, nil
}

// Delegate narrows a token on the server side: like Attenuate, and it also
// verifies the token (signature, expiry, revocation) and records the hop
// in the store, so the delegation tree can be listed and any branch
// revoked by its hop id. ttl, when positive, shortens the new token's life
// to at most ttl from now; it can never lengthen it. Zero keeps the
// token's life; a negative ttl (a deadline already past) is refused with
// ErrInvalidRequest. The delegation is recorded in the audit chain as
// "agenttrust.delegate" (see mintRecord) before the hop is stored or the
// token returned; while the audit is down nothing is delegated and the
// error matches ErrAuditUnavailable.
func (c *Client) Delegate(ctx context.Context, token string, ttl time.Duration, caveats ...string) (string, Hop, error) {
	if ttl < 0 {
		return "", Hop{}, fmt.Errorf("%w: negative ttl", ErrInvalidRequest)
	}
	now, err := c.now()
	if err != nil {
		return "", Hop{}, err
	}
	var v credential
	u := credentialUse{kinds: tokens, anyAddr: true, blocks: blocksFromStore}
	if _, err := c.verifyCall(ctx, token, now, &u, &v); err != nil {
		return "", Hop{}, err
	}
	expires := v.expires
	var narrowTo time.Time
	if ttl > 0 && now.Add(ttl).Before(expires) {
		expires = now.Add(ttl)
		narrowTo = expires
	}
	out, hopID, added, err := attenuate(token, c.random, narrowTo, caveats)
	if err != nil {
		return "", Hop{}, err
	}
	h := Hop{
		ID: hopID, Tenant: c.tenant, TokenID: v.id, KeyID: v.keyID, AgentID: v.agent,
		Caveats: added, CreatedAt: now, ExpiresAt: expires,
	}
	if n := len(v.hops); n > 0 {
		h.Parent = v.hops[n-1]
	}
	info, err := InspectTokenUnverified(out)
	if err != nil {
		return "", Hop{}, err
	}
	// The hop is carved and stored, and the token handed out, only once
	// the record is accepted (see mintRecord).
	rec := mintRecord{
		tool: opDelegate, id: hopID, agent: v.agent, from: v.id,
		by:   actor.Actor{AgentID: v.agent, KeyID: v.keyID},
		hops: append(slices.Clone(v.hops), hopID), caveats: info.Caveats, expires: expires,
	}
	err = c.audited(ctx, rec.operation(), func() error {
		carved, err := c.carveHopBudgets(ctx, &v, hopID, added, now)
		if err != nil {
			return err
		}
		if carved {
			// A Revoke of the token or of a hop above it that landed
			// since the token was verified gave back the carve-outs under
			// it before this one was taken: read the revocations again,
			// now that it is. Either this read sees the revocation, and
			// the carve-out goes back here, or the revocation was written
			// after it, and its release finds the new row. A panic of
			// the store is its failure: the carve-out goes back too.
			if err := recovered("revocation lookup", func() error { return c.refuseBlocked(ctx, v.ids()...) }); err != nil {
				return c.releaseCarve(ctx, hopID, err)
			}
		}
		// A hop not stored (an error, or a panic of the store) takes
		// nothing: its carve-out goes back to its parents.
		if err := recovered("record hop", func() error { return c.store.CreateHop(ctx, h) }); err != nil {
			err = storeErr("record hop", err)
			if carved {
				err = c.releaseCarve(ctx, hopID, err)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return "", Hop{}, err
	}
	c.event(ctx, observe.Event{Kind: observe.TokenIssued, Agent: v.agent, Outcome: "delegation"})
	return out, h, nil
}
