package agenttrust

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

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
// stays forged.
func Attenuate(token string, caveats ...string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("agenttrust: read random source: %w", err)
	}
	tok, _, err := attenuate(token, "hop_"+idEncoding.EncodeToString(b[:]), time.Time{}, caveats)
	return tok, err
}

// attenuate adds hop, an optional expiry and caveats to token and returns
// the new token and the canonical caveats it added.
func attenuate(token, hop string, expires time.Time, caveats []string) (string, []string, error) {
	if len(token) > MaxCredentialSize {
		return "", nil, errs.CredentialTooLarge
	}
	if !strings.HasPrefix(token, TokenPrefix) {
		return "", nil, ErrMalformedCredential
	}
	raw, err := decodeTokenString(token[len(TokenPrefix):])
	if err != nil {
		return "", nil, err
	}
	var m mac.Macaroon
	if err := mac.Decode(raw, &m); err != nil {
		return "", nil, ErrMalformedCredential
	}
	hops := 0
	for i := range m.NumCaveats() {
		if strings.HasPrefix(string(m.Caveat(i)), "hop = ") {
			hops++
		}
	}
	if hops >= maxDelegationDepth {
		return "", nil, fmt.Errorf("%w: token already has %d hops", errs.DelegationDepth, hops)
	}
	user, err := canonicalCaveats(caveats)
	if err != nil {
		return "", nil, err
	}
	added := []string{eqCaveat("hop", hop)}
	if !expires.IsZero() {
		added = append(added, "expires < "+expires.UTC().Format(time.RFC3339Nano))
	}
	added = append(added, user...)
	bs := make([][]byte, len(added))
	for i, s := range added {
		bs[i] = []byte(s)
	}
	out, err := mac.Attenuate(nil, raw, nil, bs...)
	if err != nil {
		if err == mac.ErrTooLarge {
			return "", nil, errs.CredentialTooLarge
		}
		return "", nil, fmt.Errorf("%w: %w", ErrMalformedCredential, err)
	}
	if len(TokenPrefix)+base64.RawURLEncoding.EncodedLen(len(out)) > MaxCredentialSize {
		return "", nil, errs.CredentialTooLarge
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(out), added, nil
}

// Delegate narrows a token on the server side: like Attenuate, and it also
// verifies the token (signature, expiry, revocation) and records the hop
// in the store, so the delegation tree can be listed and any branch
// revoked by its hop id. ttl, when positive, shortens the new token's life
// to at most ttl from now; it can never lengthen it.
func (c *Client) Delegate(ctx context.Context, token string, ttl time.Duration, caveats ...string) (string, Hop, error) {
	now := c.clock.Now()
	var v credential
	u := credentialUse{kinds: tokens, anyAddr: true, blocks: blocksFromStore}
	if _, err := c.verify(ctx, token, now, &u, &v); err != nil {
		return "", Hop{}, err
	}
	hopID, err := c.newID("hop_")
	if err != nil {
		return "", Hop{}, err
	}
	expires := v.expires
	var narrowTo time.Time
	if ttl > 0 && now.Add(ttl).Before(expires) {
		expires = now.Add(ttl)
		narrowTo = expires
	}
	out, added, err := attenuate(token, hopID, narrowTo, caveats)
	if err != nil {
		return "", Hop{}, err
	}
	if err := c.carveHopBudgets(ctx, &v, hopID, added, now); err != nil {
		return "", Hop{}, err
	}
	h := Hop{
		ID: hopID, Tenant: c.tenant, TokenID: v.id, KeyID: v.keyID, AgentID: v.agent,
		Caveats: added, CreatedAt: now, ExpiresAt: expires,
	}
	if n := len(v.hops); n > 0 {
		h.Parent = v.hops[n-1]
	}
	if err := c.store.CreateHop(ctx, h); err != nil {
		return "", Hop{}, storeErr("record hop", err)
	}
	c.event(ctx, observe.Event{Kind: observe.TokenIssued, Agent: v.agent, Outcome: "delegation"})
	return out, h, nil
}
