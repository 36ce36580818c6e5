package agenttrust

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/cache"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/entropy"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/mac"
	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
)

// Credential wire formats.
const (
	// KeyPrefix starts every API key: "atk_" + 30 base62 + 6 base62 CRC32.
	KeyPrefix = apikey.Prefix
	// TokenPrefix starts every token: "att_" + base64url(macaroon V2).
	TokenPrefix = "att_"
	// MaxCredentialSize bounds a credential, in bytes of its text; larger
	// ones are refused before any decoding, and Exchange, Attenuate and
	// Delegate never make one. A token of 8 hops (the deepest) with five
	// realistic caveats per hop (tool and resource lists, an amount, an
	// expiry, a session) and long tenant and agent ids is about 3.5 KB:
	// 6 KiB leaves room for more while an "Authorization: Bearer" line
	// stays under the 8 KB header-line limit of common proxies, and it
	// caps what one presented credential can make a verifier decode.
	MaxCredentialSize = 6 << 10
	// maxDelegationDepth is the most hops a token may pass through.
	maxDelegationDepth = 8
	// defaultTokenTTL is the lifetime of a token unless TokenConfig.TTL says
	// otherwise; a token never outlives its key.
	defaultTokenTTL = 5 * time.Minute

	tokenIDVersion = "at1"
)

// Key is an API key as a client shows it: its id, owner and limits,
// never the secret or its hash. A plain value, safe to share; the zero Key
// names no key.
type Key struct {
	ID      string // public id, "key_..."
	Tenant  string
	AgentID string
	Name    string
	// Roles are the key's rights on the server's API (admin, agent,
	// approver); checks do not read them.
	Roles      []string
	AllowedIPs []string // CIDR prefixes; empty allows any address
	Caveats    []string // canonical caveat text every use must satisfy
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
}

func keyOf(k store.Key) Key {
	return Key{ID: k.ID, Tenant: k.Tenant, AgentID: k.AgentID, Name: k.Name, Roles: k.Roles,
		AllowedIPs: k.AllowedIPs, Caveats: k.Caveats, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt}
}

type masterKey struct {
	id     string
	secret []byte
	macs   sync.Pool // *rootMAC
}

// rootMAC is an HMAC keyed by a master secret, reused with Reset, with
// room for its input and output: both would escape through the hash.Hash
// interface and cost an allocation each per token.
type rootMAC struct {
	h   hash.Hash
	in  []byte
	out [sha256.Size]byte
}

func (m *masterKey) rootKey(tokenID string) [sha256.Size]byte {
	r := m.macs.Get().(*rootMAC)
	r.h.Reset()
	r.in = append(r.in[:0], tokenID...)
	r.h.Write(r.in)
	r.h.Sum(r.out[:0])
	out := r.out
	m.macs.Put(r)
	return out
}

type keyring struct {
	current *masterKey
	byID    map[string]*masterKey
}

func newKeyring(keys []SecretKey, random func(prefix string) (string, error), secret func() ([]byte, error)) (*keyring, error) {
	if len(keys) == 0 {
		id, err := random("mk_")
		if err != nil {
			return nil, err
		}
		s, err := secret()
		if err != nil {
			return nil, err
		}
		keys = []SecretKey{{ID: id, Secret: s}}
	}
	kr := &keyring{byID: map[string]*masterKey{}}
	for i, k := range keys {
		// A secret of zero bytes is no secret: a buffer cleared before
		// use or never filled, with which anyone mints tokens.
		if err := validTokenPart(k.ID); err != nil || len(k.Secret) < 32 || entropy.Zero(k.Secret) {
			return nil, fmt.Errorf("%w: master key %d: id must be 1-64 letters, digits, '_' or '-', secret at least 32 bytes, not all zero", ErrInvalidConfig, i)
		}
		if kr.byID[k.ID] != nil {
			return nil, fmt.Errorf("%w: duplicate master key id %q", ErrInvalidConfig, k.ID)
		}
		mk := &masterKey{id: k.ID, secret: append([]byte(nil), k.Secret...)}
		mk.macs.New = func() any { return &rootMAC{h: hmac.New(sha256.New, mk.secret)} }
		kr.byID[k.ID] = mk
		if i == 0 {
			kr.current = mk
		}
	}
	return kr, nil
}

func validTokenPart(s string) error {
	if s == "" || len(s) > 64 {
		return errors.New("bad length")
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return errors.New("bad character")
		}
	}
	return nil
}

// KeySpec describes an API key to create. The zero KeySpec is refused:
// AgentID is required. It is a plain value.
type KeySpec struct {
	AgentID string
	Name    string
	// Roles on the server's API; default [agent].
	Roles []string
	// ExpiresAt ends the key's life; zero means it lives until revoked.
	ExpiresAt time.Time
	// AllowedIPs limits where the key and every token derived from it may
	// be used: CIDR prefixes or single addresses, IPv4 or IPv6.
	AllowedIPs []string
	// Caveats every use of the key, and of its tokens, must satisfy.
	Caveats []string
}

// CreateKey makes an API key for an agent of this client's tenant and
// returns the secret, which is shown only here: the store keeps its
// SHA-256. It is recorded in the audit chain as "agenttrust.create_key"
// (see Suspend), with the key's agent, roles, caveats, IP allowlist and
// expiry as attributes and its name as the Reason; never the secret. A
// credential in the name is redacted, in the record and in the key.
func (c *Client) CreateKey(ctx context.Context, spec KeySpec) (string, Key, error) {
	// The agent a key names acts in every check made with it: it has the
	// one canonical form of names, or a look-alike could dodge a rule.
	if err := refuseCredential("agent id", spec.AgentID); err != nil {
		return "", Key{}, err
	}
	if err := validActorName("agent id", spec.AgentID); err != nil {
		return "", Key{}, err
	}
	if err := validText("name", spec.Name, 256); err != nil {
		return "", Key{}, err
	}
	// The name is stored as its audit record keeps it: a credential
	// pasted into it ("replaces atk_...") is redacted, so that no
	// listing of keys shows one.
	spec.Name = redact.Credentials(spec.Name)
	now, err := c.now()
	if err != nil {
		return "", Key{}, err
	}
	if !spec.ExpiresAt.IsZero() && !spec.ExpiresAt.After(now) {
		return "", Key{}, fmt.Errorf("%w: key expiry is in the past", ErrInvalidRequest)
	}
	roles := spec.Roles
	if len(roles) == 0 {
		roles = []string{store.RoleAgent}
	}
	for _, r := range roles {
		if r == store.RoleMetrics {
			return "", Key{}, fmt.Errorf("%w: role %q is not for keys: the server reads its metrics scrape token from its configuration", ErrInvalidRequest, r)
		}
		if r != store.RoleAdmin && r != store.RoleAgent && r != store.RoleApprover {
			return "", Key{}, fmt.Errorf("%w: unknown role %q (want admin, agent or approver)", ErrInvalidRequest, r)
		}
	}
	ips, err := canonicalPrefixes(spec.AllowedIPs)
	if err != nil {
		return "", Key{}, err
	}
	cavs, err := canonicalCaveats(spec.Caveats)
	if err != nil {
		return "", Key{}, err
	}
	if err := checkKeyRoles(roles, cavs); err != nil {
		return "", Key{}, err
	}
	secret, err := apikey.Generate(c.random)
	if err != nil {
		return "", Key{}, err
	}
	id, err := c.newID("key_")
	if err != nil {
		return "", Key{}, err
	}
	if err := c.carveKeyBudgets(ctx, id, cavs, spec.ExpiresAt, now); err != nil {
		return "", Key{}, err
	}
	k := store.Key{
		ID: id, Tenant: c.tenant, AgentID: spec.AgentID, Hash: apikey.Hash(secret),
		Name: spec.Name, Roles: append([]string(nil), roles...), AllowedIPs: ips, Caveats: cavs,
		CreatedAt: now, ExpiresAt: spec.ExpiresAt,
	}
	// The record says what the key may do: its caveats, allowlist and
	// expiry, as a mint's record does (see mintRecord).
	kvs := appendCaveatKVs([]attrKV{
		{Name: "agent_id", Value: spec.AgentID}, {Name: "roles", Value: strings.Join(roles, ",")},
	}, cavs)
	if len(ips) > 0 {
		kvs = append(kvs, attrKV{Name: "allowed_ips", Value: strings.Join(ips, ",")})
	}
	if !spec.ExpiresAt.IsZero() {
		kvs = append(kvs, attrKV{Name: "expires", Value: spec.ExpiresAt.UTC().Format(time.RFC3339Nano)})
	}
	op := operation{tool: opCreateKey, resource: id, reason: spec.Name, kvs: kvs}
	err = c.audited(ctx, op, func() error {
		if err := c.store.CreateKey(ctx, k); err != nil {
			return storeErr("create key", err)
		}
		return nil
	})
	if err != nil {
		return "", Key{}, err
	}
	return secret, keyOf(k), nil
}

// ListKeys lists this tenant's keys (never their secrets).
func (c *Client) ListKeys(ctx context.Context) ([]Key, error) {
	ks, err := c.store.Keys(ctx, c.tenant)
	if err != nil {
		return nil, storeErr("list keys", err)
	}
	out := make([]Key, len(ks))
	for i, k := range ks {
		out[i] = keyOf(k)
	}
	return out, nil
}

func canonicalPrefixes(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			a, aerr := netip.ParseAddr(strings.TrimSpace(s))
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%w: bad IP prefix %q", ErrInvalidRequest, s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked().String())
	}
	return out, nil
}

// validAudience checks the audience a JWT is minted for, which its mint
// record shows and which decides what resource server takes it: 1-256
// bytes of valid UTF-8 in NFC, no control, space or invisible formatting
// character. Anything else could look like another audience (a
// trailing zero-width space, a bidi override, a decomposed letter)
// while binding the JWT to a different one.
func validAudience(s string) error {
	if err := validID("audience", s); err != nil {
		return err
	}
	for _, r := range s {
		if r == ' ' || r >= utf8.RuneSelf && (unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || unicode.Is(unicode.Zs, r)) {
			return fmt.Errorf("%w: audience holds %U, a space or invisible character", ErrInvalidRequest, r)
		}
	}
	if cond.NFC(s) != s {
		return fmt.Errorf("%w: audience is not in Unicode NFC", ErrInvalidRequest)
	}
	return nil
}

// canonicalCaveats parses caveats strictly and returns their canonical
// text. "tenant" and "hop" caveats are written by agenttrust itself.
func canonicalCaveats(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		cv, err := cond.Parse(s)
		if err != nil {
			return nil, &CaveatError{Caveat: s, Msg: err.Error()}
		}
		if cv.Field == cond.FieldTenant || cv.Field == cond.FieldHop {
			return nil, &CaveatError{Caveat: s, Msg: "tenant and hop caveats are added by agenttrust, not by callers"}
		}
		out = append(out, cv.String())
	}
	return out, nil
}

// keyEntry is a verified key with its limits compiled, cached by hash. A
// key never changes once created; revocation is checked on every use, so
// the cache cannot hide one.
type keyEntry struct {
	key      store.Key
	prefixes []netip.Prefix
	conds    []cond.Cond
	expires  time.Time // the earlier of key.ExpiresAt and its expires caveats
}

// keyEnd is when a key whose ExpiresAt is expiresAt and whose caveats
// are conds ends (zero for never): an "expires" caveat ends the key as
// its ExpiresAt does, so every use, every credential minted from it and
// everything decided with it ends by the earlier of them.
func keyEnd(expiresAt time.Time, conds []cond.Cond) time.Time {
	end := expiresAt
	for i := range conds {
		if t, ok := conds[i].Expires(); ok && (end.IsZero() || t.Before(end)) {
			end = t
		}
	}
	return end
}

// boundedCache is a cache the client fills from credentials it is shown,
// bounded in entries and bytes (see internal/cache): cost estimates the
// memory one entry holds.
type boundedCache[K comparable, V any] struct {
	c    *cache.Cache[K, V]
	cost func(K, V) int64
}

func newBoundedCache[K comparable, V any](entries int, bytes int64, cost func(K, V) int64) boundedCache[K, V] {
	return boundedCache[K, V]{c: cache.New[K, V](entries, bytes), cost: cost}
}

func (bc *boundedCache[K, V]) get(k K) (V, bool) { return bc.c.Get(k) }

func (bc *boundedCache[K, V]) put(k K, v V) { bc.c.Put(k, v, bc.cost(k, v)) }

// Cache bounds. The token cache holds what a presented token's signature
// proved, keyed by the token's text: anyone holding one token can
// attenuate it offline into any number of distinct valid ones, so it is
// bounded in bytes as well as entries, and a flood of one-off tokens
// evicts itself (CLOCK) before the tokens in use. The key caches hold
// only keys found in the store.
const (
	defaultTokenCacheEntries = 1 << 14
	defaultTokenCacheBytes   = 16 << 20
	keyCacheEntries          = 1 << 12
	keyCacheBytes            = 4 << 20
)

// condCost is the memory one parsed caveat holds beyond its text.
const condCost = int64(unsafe.Sizeof(cond.Cond{})) + 64

func keyEntryCost(_ [32]byte, e *keyEntry) int64 {
	n := int64(len(e.key.ID)+len(e.key.Tenant)+len(e.key.AgentID)+len(e.key.Name)) + 256
	for _, s := range e.key.Roles {
		n += int64(len(s)) + 16
	}
	for _, s := range e.key.AllowedIPs {
		n += int64(len(s)) + 48
	}
	for _, s := range e.key.Caveats {
		n += int64(len(s)) + caveatCost(s)
	}
	return n
}

func rolesCost(id string, roles []string) int64 {
	n := int64(len(id)) + 24
	for _, r := range roles {
		n += int64(len(r)) + 16
	}
	return n
}

// patternCost is the memory one parsed glob of a list holds beyond its
// text.
const patternCost = int64(unsafe.Sizeof(cond.Pattern{})) + 48

// caveatCost estimates the memory one caveat holds once parsed: its text
// (decoded, then normalised), the condition and each pattern of a list.
func caveatCost(text string) int64 {
	return 2*int64(len(text)) + condCost + int64(strings.Count(text, ",")+1)*patternCost
}

// credentialCost estimates what a verified token or JWT cached under its
// text holds: the text itself, the caveats (caveatBytes, as summed by
// caveatCost) and the entry.
func credentialCost(text string, caveatBytes int64) int64 {
	return int64(len(text)) + caveatBytes + 256
}

// lookupKey parses an API key offline (prefix, length, alphabet,
// checksum), then finds it by hash. It checks tenant and expiry, not
// revocation. An expired key is returned with ErrExpired: it was found
// by its hash, so a refused check's record still names it.
func (c *Client) lookupKey(ctx context.Context, secret string, now time.Time) (*keyEntry, error) {
	k, err := apikey.Parse(secret)
	if err != nil {
		if errors.Is(err, apikey.ErrChecksum) {
			return nil, errs.KeyChecksum
		}
		return nil, ErrMalformedCredential
	}
	h := k.Hash()
	e, _ := c.keys.get(h)
	if e == nil {
		stored, err := c.store.KeyByHash(ctx, h)
		if isNotFound(err) {
			return nil, errs.UnknownKey
		}
		if err != nil {
			return nil, storeErr("key lookup", err)
		}
		e = &keyEntry{key: stored}
		for _, p := range stored.AllowedIPs {
			pfx, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("%w: stored key %s has a bad IP prefix", ErrStoreUnavailable, stored.ID)
			}
			e.prefixes = append(e.prefixes, pfx)
		}
		for _, s := range stored.Caveats {
			cv, err := cond.Parse(s)
			if err != nil {
				return nil, &CaveatError{Caveat: s, Msg: err.Error()}
			}
			e.conds = append(e.conds, cv)
		}
		e.expires = keyEnd(stored.ExpiresAt, e.conds)
		c.keys.put(h, e)
	}
	if !apikey.Equal(e.key.Hash, h) || e.key.Tenant != c.tenant {
		return nil, errs.UnknownKey
	}
	if !e.expires.IsZero() && !now.Before(e.expires) {
		return e, ErrExpired
	}
	return e, nil
}

// Exchange trades an API key for a short-lived token: att_ + base64url of
// a macaroon whose caveats bind the tenant, the agent, an expiry (the
// token TTL, never past the key's own expiry), the key's caveats and IP
// allowlist, and the caveats given here. Anyone holding the token can
// narrow it further with Attenuate; no one can widen it.
//
// The mint is recorded in the audit chain as "agenttrust.exchange" (see
// mintRecord) before the token is returned: while the audit is down, or
// the client closed, no token is minted and the error matches
// ErrAuditUnavailable or ErrClosed.
func (c *Client) Exchange(ctx context.Context, apiKey string, caveats ...string) (string, error) {
	now, err := c.now()
	if err != nil {
		return "", err
	}
	ke, err := c.exchangeable(ctx, apiKey, now)
	if err != nil {
		return "", err
	}
	cavs, err := canonicalCaveats(caveats)
	if err != nil {
		return "", err
	}
	if err := noTokenBudget(cavs); err != nil {
		return "", err
	}
	tok, tokID, err := c.mint(ke, now, cavs)
	if err != nil {
		return "", err
	}
	// The token is handed out only once its record is accepted.
	info, err := InspectTokenUnverified(tok)
	if err != nil {
		return "", err
	}
	rec := mintRecord{
		tool: opExchange, id: tokID, agent: ke.key.AgentID, from: ke.key.ID,
		by:      actor.Actor{AgentID: ke.key.AgentID, KeyID: ke.key.ID},
		caveats: info.Caveats, expires: info.ExpiresAt,
	}
	if err := c.audited(ctx, rec.operation(), func() error { return nil }); err != nil {
		return "", err
	}
	c.event(ctx, observe.Event{Kind: observe.TokenIssued, Agent: ke.key.AgentID, Outcome: "token"})
	return tok, nil
}

// exchangeable checks that a key may mint: valid, live, not revoked, its
// agent not suspended.
func (c *Client) exchangeable(ctx context.Context, apiKey string, now time.Time) (*keyEntry, error) {
	var cr credential
	u := credentialUse{kinds: apiKeys, anyAddr: true, blocks: blocksFromStore}
	if _, err := c.verifyCall(ctx, apiKey, now, &u, &cr); err != nil {
		return nil, err
	}
	return cr.key, nil
}

// verifyCall is verify for the calls that verify a credential outside
// Check (Exchange, ExchangeJWT, Delegate, NarrowJWT, Authenticate): a
// panic of the store under it (a key or revocation lookup) fails the call
// with an error matching ErrInvalidConfig (errs.Panicked), as it denies a
// check (decideNow), rather than panic in the caller.
func (c *Client) verifyCall(ctx context.Context, cred string, now time.Time, u *credentialUse, cr *credential) (roles []string, err error) {
	err = recovered("credential verification", func() (err error) {
		roles, err = c.verify(ctx, cred, now, u, cr)
		return err
	})
	return roles, err
}

func (c *Client) tokenExpiry(ke *keyEntry, now time.Time) time.Time {
	exp := now.Add(c.tokenTTL)
	if !ke.expires.IsZero() && ke.expires.Before(exp) {
		exp = ke.expires
	}
	return exp.UTC()
}

// mint makes a token for key ke. Caveats, in order: tenant, agent,
// expiry, the key's IP allowlist and caveats, then extra.
func (c *Client) mint(ke *keyEntry, now time.Time, extra []string) (string, string, error) {
	tokID, err := c.newID("tok_")
	if err != nil {
		return "", "", err
	}
	mk := c.keyring.current
	id := tokenIDVersion + "|" + tokID + "|" + ke.key.ID + "|" + mk.id
	root := mk.rootKey(tokID)
	b, err := mac.New(root[:], []byte(id), "")
	if err != nil {
		return "", "", err
	}
	add := func(s string) {
		if err == nil {
			err = b.AddCaveat([]byte(s))
		}
	}
	add(eqCaveat("tenant", ke.key.Tenant))
	add(eqCaveat("agent", ke.key.AgentID))
	add("expires < " + c.tokenExpiry(ke, now).Format(time.RFC3339Nano))
	if len(ke.key.AllowedIPs) > 0 {
		add("ip in " + strings.Join(ke.key.AllowedIPs, ","))
	}
	for _, s := range ke.key.Caveats {
		add(s)
	}
	for _, s := range extra {
		add(s)
	}
	if err != nil {
		return "", "", fmt.Errorf("agenttrust: mint token: %w", err)
	}
	raw, err := b.AppendBinary(nil)
	if err != nil {
		return "", "", fmt.Errorf("agenttrust: mint token: %w", err)
	}
	if len(TokenPrefix)+b64.EncodedLen(len(raw)) > MaxCredentialSize {
		return "", "", fmt.Errorf("%w: the key's caveats leave no room for a token", errs.CredentialTooLarge)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(raw), tokID, nil
}

// eqCaveat returns the canonical caveat "field = value".
func eqCaveat(field, value string) string {
	cv, err := cond.Parse(field + " = " + strconv.Quote(value))
	if err != nil {
		// Ids reaching here were validated; an id the grammar cannot hold
		// yields a caveat that never verifies, so the token is useless,
		// not wider.
		return field + " = " + strconv.Quote(value)
	}
	return cv.String()
}

// verifiedToken is what a token's signature proves, cached so repeated
// checks skip decoding and HMAC work. Caveats and revocation are still
// evaluated on every check.
type verifiedToken struct {
	id, keyID, tenant, agent string
	master                   string // the master key it is rooted in
	hops                     []string
	conds                    []cond.Cond
	condsBuf                 [4]cond.Cond // room for a minted token's caveats
	expires                  time.Time
}

var b64 = base64.RawURLEncoding.Strict()

// appendDecodeToken appends the bytes a token's base64url text encodes
// to dst. One token has one encoding: the decoder skips CR and LF, so a
// text that holds anything beyond its canonical characters decodes to
// fewer bytes than its length implies and is refused; Strict refuses
// padding, the other alphabet and stray trailing bits.
func appendDecodeToken(dst, enc []byte) ([]byte, error) {
	out, err := b64.AppendDecode(dst, enc)
	if err != nil || b64.EncodedLen(len(out)-len(dst)) != len(enc) {
		return dst, ErrMalformedCredential
	}
	return out, nil
}

// decodeTokenString decodes the text of a token after its prefix.
func decodeTokenString(s string) ([]byte, error) {
	return appendDecodeToken(make([]byte, 0, b64.DecodedLen(len(s))), []byte(s))
}

// decodeToken decodes and verifies a token's signature chain and parses its
// caveats. It does not evaluate them. When the cache is off and scratch is
// set, the token is decoded into scratch rather than a new verifiedToken.
func (c *Client) decodeToken(cred string, scratch *verifiedToken) (*verifiedToken, error) {
	if len(cred) > MaxCredentialSize {
		return nil, errs.CredentialTooLarge
	}
	if c.tokenCacheOff {
		v, _, err := c.decodeTokenInto(cred, scratch)
		return v, err
	}
	// The cache is keyed by the token's own text, so a hit is the very
	// token verified before: it skips decoding and every HMAC.
	if e, ok := c.tokens.Get(cred); ok {
		if v, ok := e.(*verifiedToken); ok {
			return v, nil
		}
	}
	v, cost, err := c.decodeTokenInto(cred, nil)
	if err != nil {
		return nil, err
	}
	// A copy: the caller's string may share memory with a larger buffer.
	c.tokens.Put(strings.Clone(cred), v, credentialCost(cred, cost))
	return v, nil
}

// decodeTokenInto is decodeToken without the cache: it decodes into
// scratch, or into a new verifiedToken when scratch is nil, and returns
// the cost of the caveats for the cache. The token the cache keeps is
// never scratch (a separate function, so the compiler sees that too and
// keeps the caller's memory off the heap).
func (c *Client) decodeTokenInto(cred string, scratch *verifiedToken) (v *verifiedToken, cost int64, err error) {
	buf := c.bufs.Get().(*[]byte)
	defer c.bufs.Put(buf)
	// The encoded text goes into the scratch buffer first (the decoder
	// wants bytes; converting the string would allocate), the decoded
	// token after it.
	enc := append((*buf)[:0], cred[len(TokenPrefix):]...)
	raw, err := appendDecodeToken(enc[len(enc):], enc)
	*buf = enc[:0]
	if err != nil {
		return nil, 0, err
	}
	var m mac.Macaroon
	if err := mac.Decode(raw, &m); err != nil {
		if errors.Is(err, mac.ErrTooLarge) {
			return nil, 0, errs.CredentialTooLarge
		}
		return nil, 0, ErrMalformedCredential
	}
	if len(m.Location()) != 0 {
		return nil, 0, ErrMalformedCredential
	}
	// One string holds the decoded token; the id and the caveats are
	// slices of it, so the verified token costs one copy, not one a part.
	text := string(raw)
	ver, rest, _ := strings.Cut(text[m.IDOffset():][:len(m.ID())], "|")
	tokID, rest, _ := strings.Cut(rest, "|")
	keyID, mkID, _ := strings.Cut(rest, "|")
	if ver != tokenIDVersion || validTokenPart(tokID) != nil || validTokenPart(keyID) != nil || validTokenPart(mkID) != nil {
		return nil, 0, ErrMalformedCredential
	}
	mk := c.keyring.byID[mkID]
	if mk == nil {
		return nil, 0, errs.BadSignature
	}
	// Each hop's id must be bound to the signature before it (see
	// appendHopID), which only the chain's verification computes.
	var hopAt [maxDelegationDepth]int
	var hopSig [maxDelegationDepth][mac.SignatureSize]byte
	nHops := 0
	for i := range m.NumCaveats() {
		if strings.HasPrefix(text[m.CaveatOffset(i):][:len(m.Caveat(i))], hopCaveatPrefix) {
			if nHops == maxDelegationDepth {
				return nil, 0, errs.DelegationDepth
			}
			hopAt[nHops] = i
			nHops++
		}
	}
	root := mk.rootKey(tokID)
	h := c.hashers.Get().(*mac.Hasher)
	err = mac.VerifyBefore(&m, root[:], h, hopAt[:nHops], hopSig[:nHops])
	c.hashers.Put(h)
	if err != nil {
		return nil, 0, errs.BadSignature
	}
	// boundEnd[k] is the index past the caveats hop k binds: any caveat
	// from there to the next hop was appended by a holder, bound to no hop.
	var boundEnd [maxDelegationDepth]int
	for k := range nHops {
		id := text[m.CaveatOffset(hopAt[k]):][:len(m.Caveat(hopAt[k]))][len(hopCaveatPrefix):]
		bound := hopBound(id, &hopSig[k], m.Caveats()[hopAt[k]+1:])
		clear(hopSig[k][:])
		if !bound {
			clear(hopSig[:nHops])
			return nil, 0, errs.HopNotBound
		}
		boundEnd[k] = hopAt[k] + 1 + hopBinds(id)
	}
	if v = scratch; v != nil {
		*v = verifiedToken{id: tokID, keyID: keyID, master: mkID} // hops are the caller's to keep: never reused
	} else {
		v = &verifiedToken{id: tokID, keyID: keyID, master: mkID}
	}
	v.conds = v.condsBuf[:0]
	var hopBudgets []string // the budgets the current hop binds
	for i := range m.NumCaveats() {
		cvText := text[m.CaveatOffset(i):][:len(m.Caveat(i))]
		// One token, one encoding: a caveat must be in canonical form.
		cv, err := cond.ParseCanonical(cvText)
		if err != nil {
			return nil, 0, &CaveatError{Caveat: cvText, Msg: err.Error()}
		}
		switch {
		case cv.Field == cond.FieldHop:
			hopBudgets = hopBudgets[:0]
		case cv.Field != cond.FieldBudget || len(v.hops) == 0:
		case i < boundEnd[len(v.hops)-1]:
			hopBudgets = append(hopBudgets, cv.BudgetName())
		case !slices.Contains(hopBudgets, cv.BudgetName()):
			// A budget belongs to the hop that added it (budget.go): one
			// appended past the caveats its hop binds may repeat one of
			// them (the smallest limit holds), but not give the hop a
			// budget its delegator never carved, such as a currency.
			return nil, 0, &CaveatError{Caveat: cvText, Msg: "a budget is added with its hop (Attenuate, Delegate); appended after it, only one the hop holds may be repeated"}
		}
		noteCaveat(&cv, &v.tenant, &v.agent, &v.hops, &v.expires)
		v.conds = append(v.conds, cv)
		cost += caveatCost(cvText)
	}
	if v.tenant == "" || v.agent == "" || v.expires.IsZero() {
		return nil, 0, ErrMalformedCredential
	}
	if len(v.hops) != nHops {
		// A hop caveat not in its canonical text is refused above.
		return nil, 0, ErrMalformedCredential
	}

	return v, cost, nil
}

// TokenInfo describes a token without its secret parts. It is a plain
// value. The zero TokenInfo describes no token.
type TokenInfo struct {
	ID        string
	KeyID     string
	Tenant    string
	AgentID   string
	ExpiresAt time.Time
	HopIDs    []string
	Caveats   []string
}

// InspectTokenUnverified returns what a token says about itself. It does not verify
// the signature: use it to display a token, never to trust one.
func InspectTokenUnverified(token string) (TokenInfo, error) {
	if len(token) > MaxCredentialSize {
		return TokenInfo{}, errs.CredentialTooLarge
	}
	if !strings.HasPrefix(token, TokenPrefix) {
		return TokenInfo{}, ErrMalformedCredential
	}
	raw, err := decodeTokenString(token[len(TokenPrefix):])
	if err != nil {
		return TokenInfo{}, err
	}
	var m mac.Macaroon
	if err := mac.Decode(raw, &m); err != nil {
		return TokenInfo{}, ErrMalformedCredential
	}
	parts := strings.Split(string(m.ID()), "|")
	if len(parts) != 4 || parts[0] != tokenIDVersion {
		return TokenInfo{}, ErrMalformedCredential
	}
	info := TokenInfo{ID: parts[1], KeyID: parts[2]}
	for i := range m.NumCaveats() {
		text := string(m.Caveat(i))
		info.Caveats = append(info.Caveats, text)
		cv, err := cond.Parse(text)
		if err != nil {
			continue
		}
		noteCaveat(&cv, &info.Tenant, &info.AgentID, &info.HopIDs, &info.ExpiresAt)
	}
	return info, nil
}

// noteCaveat records what a token's caveat says about the token itself:
// its tenant and agent (the first "=" of each), its hops in order and its
// earliest expiry.
func noteCaveat(cv *cond.Cond, tenant, agent *string, hops *[]string, expires *time.Time) {
	switch cv.Field {
	case cond.FieldTenant:
		if *tenant == "" && cv.Op == cond.OpEq {
			*tenant = cv.Value()
		}
	case cond.FieldAgent:
		if *agent == "" && cv.Op == cond.OpEq {
			*agent = cv.Value()
		}
	case cond.FieldHop:
		*hops = append(*hops, cv.Value())
	case cond.FieldExpires:
		if t, _ := cv.Expires(); expires.IsZero() || t.Before(*expires) {
			*expires = t
		}
	}
}
