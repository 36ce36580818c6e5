package agenttrust

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/entropy"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/observe"
)

// jwtLeeway is the clock skew tolerated on exp, nbf and iat.
const jwtLeeway = 5 * time.Second

// signingKey is a JWT signing key: its "kid" and private key.
type signingKey struct {
	ID      string
	Private ed25519.PrivateKey
}

type signingKeys struct {
	current signingKey
	public  map[string]ed25519.PublicKey
	order   []string
}

func newSigningKeys(seeds []SecretKey, r io.Reader, newID func(string) (string, error)) (*signingKeys, error) {
	keys := make([]signingKey, len(seeds))
	for i, k := range seeds {
		// A seed of zero bytes (a buffer cleared before use or never
		// filled) is one anyone signs with.
		if validTokenPart(k.ID) != nil || len(k.Secret) != ed25519.SeedSize || entropy.Zero(k.Secret) {
			return nil, fmt.Errorf("%w: signing key %d: id must be 1-64 letters, digits, '_' or '-', secret a %d-byte Ed25519 seed, not all zero", ErrInvalidConfig, i, ed25519.SeedSize)
		}
		keys[i] = signingKey{ID: k.ID, Private: ed25519.NewKeyFromSeed(k.Secret)}
	}
	if len(keys) == 0 {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := io.ReadFull(r, seed); err != nil {
			return nil, fmt.Errorf("%w: read random source: %w", ErrInvalidConfig, err)
		}
		id, err := newID("sk_")
		if err != nil {
			return nil, err
		}
		keys = []signingKey{{ID: id, Private: ed25519.NewKeyFromSeed(seed)}}
	}
	sk := &signingKeys{current: keys[0], public: map[string]ed25519.PublicKey{}}
	for _, k := range keys {
		if sk.public[k.ID] != nil {
			return nil, fmt.Errorf("%w: duplicate signing key id %q", ErrInvalidConfig, k.ID)
		}
		sk.public[k.ID] = k.Private.Public().(ed25519.PublicKey)
		sk.order = append(sk.order, k.ID)
	}
	return sk, nil
}

// jwtClaims are the claims of an agenttrust JWT.
type jwtClaims struct {
	jwt.RegisteredClaims
	Tenant  string   `json:"tenant"`
	KeyID   string   `json:"key"`
	Caveats []string `json:"caveats,omitempty"`
	// MasterKey names the master key of the token a JWT was made from
	// (NarrowJWT), so that retiring that key retires the JWT with the
	// token. A JWT made from an API key has none.
	MasterKey string `json:"mk,omitempty"`
}

// ExchangeJWT is Exchange in JWT form, for resource servers that speak
// OAuth bearer tokens: an EdDSA JWT with kid, iss, aud, sub (the agent),
// exp, iat, jti (the token id) and the tenant, parent key id and caveats
// as claims. It is checked, and revoked, like any token; it cannot be
// attenuated. It is recorded in the audit chain as
// "agenttrust.exchange_jwt" before it is returned, as Exchange is.
func (c *Client) ExchangeJWT(ctx context.Context, apiKey, audience string, caveats ...string) (string, error) {
	if err := validAudience(audience); err != nil {
		return "", err
	}
	now, err := c.now()
	if err != nil {
		return "", err
	}
	ke, err := c.exchangeable(ctx, apiKey, now)
	if err != nil {
		return "", err
	}
	user, err := canonicalCaveats(caveats)
	if err != nil {
		return "", err
	}
	if err := noTokenBudget(user); err != nil {
		return "", err
	}
	var cavs []string
	if len(ke.key.AllowedIPs) > 0 {
		cavs = append(cavs, "ip in "+strings.Join(ke.key.AllowedIPs, ","))
	}
	cavs = append(append(cavs, ke.key.Caveats...), user...)
	tokID, err := c.newID("tok_")
	if err != nil {
		return "", err
	}
	claims := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: c.issuer, Subject: ke.key.AgentID, Audience: jwt.ClaimStrings{audience},
			ExpiresAt: jwt.NewNumericDate(c.tokenExpiry(ke, now)), IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), ID: tokID,
		},
		Tenant: c.tenant, KeyID: ke.key.ID, Caveats: cavs,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = c.signing.current.ID
	s, err := t.SignedString(c.signing.current.Private)
	if err != nil {
		return "", fmt.Errorf("agenttrust: sign JWT: %w", err)
	}
	if len(s) > MaxCredentialSize {
		return "", fmt.Errorf("%w: the key's caveats leave no room for a JWT", errs.CredentialTooLarge)
	}
	// The JWT is handed out only once its record is accepted.
	rec := mintRecord{
		tool: opExchangeJWT, id: tokID, agent: ke.key.AgentID, from: ke.key.ID,
		by:      actor.Actor{AgentID: ke.key.AgentID, KeyID: ke.key.ID},
		caveats: cavs, expires: claims.ExpiresAt.Time, audience: audience,
	}
	if err := c.audited(ctx, rec.operation(), func() error { return nil }); err != nil {
		return "", err
	}
	c.event(ctx, observe.Event{Kind: observe.TokenIssued, Agent: ke.key.AgentID, Outcome: "jwt"})
	return s, nil
}

// NarrowJWT makes an audience-bound JWT from a credential of this
// client's tenant, for a token endpoint's RFC 8693 token exchange and
// client credentials grant. subject is an API key, a token (att_) or a
// JWT; it is verified as Delegate verifies (signature, lifetime,
// revocation of every id it carries, suspension of its agent), and what
// comes out can do no more than it:
//
//   - sub, key and tenant are the subject's, and so is jti, the token
//     id, for a token or JWT subject (as Attenuate keeps it), so that
//     revoking the subject's id revokes the JWT; so is mk, the master
//     key that minted a token subject, so that retiring that key
//     retires the JWT;
//   - every caveat of the subject carries over (for an API key, its
//     caveats and its IP allowlist as an "ip in" caveat), then a fresh
//     "hop = <id>" caveat, then caveats, so the JWT is narrowed (see
//     Principal.Roles): it holds at most the agent role, whatever roles
//     the subject's key has;
//   - exp is the earliest of now plus the token TTL, the subject's own
//     expiry and, when ttl is positive, now plus ttl;
//   - aud is audience alone. A JWT subject can only be narrowed for an
//     audience it already names: a resource server shown a JWT cannot
//     trade it for one that another server accepts.
//
// The JWT is recorded in the audit chain as "agenttrust.narrow_jwt"
// before its hop is stored or it is returned, as Delegate is. The hop is
// recorded in the store like one of Delegate, and revoking
// its id, or any id of the subject, kills the JWT. A subject already 8
// hops deep (the most a token may pass through) is refused with an error
// matching ErrUnauthorized.
func (c *Client) NarrowJWT(ctx context.Context, subject, audience string, ttl time.Duration, caveats ...string) (string, Hop, error) {
	if err := validAudience(audience); err != nil {
		return "", Hop{}, err
	}
	if ttl < 0 {
		return "", Hop{}, fmt.Errorf("%w: negative ttl", ErrInvalidRequest)
	}
	user, err := canonicalCaveats(caveats)
	if err != nil {
		return "", Hop{}, err
	}
	now, err := c.now()
	if err != nil {
		return "", Hop{}, err
	}
	var cr credential
	u := credentialUse{kinds: anyCredential, anyAddr: true, blocks: blocksFromStore}
	if _, err := c.verifyCall(ctx, subject, now, &u, &cr); err != nil {
		return "", Hop{}, err
	}
	if len(cr.hops) >= maxDelegationDepth {
		return "", Hop{}, fmt.Errorf("%w: credential already has %d hops", errs.DelegationDepth, len(cr.hops))
	}
	if looksLikeJWT(subject) {
		// Verified above; only its audience is read here.
		var claims jwtClaims
		if _, _, err := new(jwt.Parser).ParseUnverified(subject, &claims); err != nil {
			return "", Hop{}, ErrMalformedCredential
		}
		if !slices.Contains(claims.Audience, audience) {
			return "", Hop{}, fmt.Errorf("%w: a JWT is narrowed only for an audience it names", errs.Audience)
		}
	}
	var cavs []string
	if cr.key != nil && len(cr.key.key.AllowedIPs) > 0 {
		cavs = append(cavs, "ip in "+strings.Join(cr.key.key.AllowedIPs, ","))
	}
	for i := range cr.conds {
		cavs = append(cavs, cr.conds[i].String())
	}
	hopID, err := c.newID("hop_")
	if err != nil {
		return "", Hop{}, err
	}
	exp := now.Add(c.tokenTTL)
	if !cr.expires.IsZero() && cr.expires.Before(exp) {
		exp = cr.expires
	}
	if ttl > 0 && now.Add(ttl).Before(exp) {
		exp = now.Add(ttl)
	}
	// exp as the claim holds it, and as a caveat of the hop: the hop's
	// budget node (see budgetChain) ends with the JWT, as a delegated
	// token's does, rather than reading as one that never expires.
	exp = jwt.NewNumericDate(exp).Time.UTC()
	added := append([]string{eqCaveat("hop", hopID), "expires < " + exp.Format(time.RFC3339Nano)}, user...)
	cavs = append(cavs, added...)
	// The token id is the subject's, as Attenuate keeps it: revoking the
	// subject's id kills the JWT too. An API key roots no token, so the
	// JWT is the first of a tree.
	root := cr.id
	if cr.key != nil {
		if root, err = c.newID("tok_"); err != nil {
			return "", Hop{}, err
		}
	}
	s, err := c.signJWT(jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: c.issuer, Subject: cr.agent, Audience: jwt.ClaimStrings{audience},
			ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), ID: root,
		},
		Tenant: c.tenant, KeyID: cr.keyID, Caveats: cavs, MasterKey: cr.master,
	})
	if err != nil {
		return "", Hop{}, err
	}
	h := Hop{
		ID: hopID, Tenant: c.tenant, TokenID: root, KeyID: cr.keyID, AgentID: cr.agent,
		Caveats: added, CreatedAt: now, ExpiresAt: exp.UTC(),
	}
	if n := len(cr.hops); n > 0 {
		h.Parent = cr.hops[n-1]
	}
	// The hop is stored, and the JWT handed out, only once the record is
	// accepted (see mintRecord).
	rec := mintRecord{
		tool: opNarrowJWT, id: hopID, agent: cr.agent, from: cr.id,
		by:   actor.Actor{AgentID: cr.agent, KeyID: cr.keyID},
		hops: append(slices.Clone(cr.hops), hopID), caveats: cavs, expires: exp, audience: audience,
	}
	err = c.audited(ctx, rec.operation(), func() error {
		if err := c.store.CreateHop(ctx, h); err != nil {
			return storeErr("record hop", err)
		}
		return nil
	})
	if err != nil {
		return "", Hop{}, err
	}
	c.event(ctx, observe.Event{Kind: observe.TokenIssued, Agent: cr.agent, Outcome: "jwt"})
	return s, h, nil
}

// signJWT signs claims with the current signing key.
func (c *Client) signJWT(claims jwtClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = c.signing.current.ID
	s, err := t.SignedString(c.signing.current.Private)
	if err != nil {
		return "", fmt.Errorf("agenttrust: sign JWT: %w", err)
	}
	if len(s) > MaxCredentialSize {
		return "", fmt.Errorf("%w: the caveats leave no room for a JWT", errs.CredentialTooLarge)
	}
	return s, nil
}

// PublicKeys returns the public keys that verify this client's JWTs, by
// key id (the JWT "kid"), for a /.well-known/jwks.json endpoint or a
// resource server that verifies them itself. The map and keys are the
// caller's: changing them changes nothing the client verifies with.
func (c *Client) PublicKeys() map[string]ed25519.PublicKey {
	out := make(map[string]ed25519.PublicKey, len(c.signing.order))
	for _, id := range c.signing.order {
		out[id] = slices.Clone(c.signing.public[id]) // the caller's to change
	}
	return out
}

func looksLikeJWT(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

// verifiedJWT is a JWT whose signature and static claims held, cached.
type verifiedJWT struct {
	cred credential
}

// verifyJWT verifies a JWT: EdDSA only, known kid, issuer, one of the
// accepted audiences, exp required, bounded leeway, strict base64.
func (c *Client) verifyJWT(s string, now time.Time, cr *credential) error {
	// Keyed by the JWT's own text, so a hit is the very token verified
	// before. Tokens of the macaroon form share the cache; their text
	// starts differently, and the type is checked besides.
	if v, ok := c.tokens.Get(s); ok {
		if j, ok := v.(*verifiedJWT); ok {
			*cr = j.cred
			return nil
		}
	}
	// One token, one meaning: the exact canonical encoding, and claims
	// that encoding/json could not read two ways.
	if err := strictJWT(s); err != nil {
		return err
	}
	// The method is pinned: look at the header first so that alg "none",
	// HS256 keyed with the public key and the like get their own error.
	var hdr jwt.Parser
	if t, _, err := hdr.ParseUnverified(s, &jwt.RegisteredClaims{}); err != nil {
		return ErrMalformedCredential
	} else if t.Method == nil || t.Method.Alg() != jwt.SigningMethodEdDSA.Alg() {
		return errs.Algorithm
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithAudience(c.audiences...),
		jwt.WithIssuer(c.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(jwtLeeway),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var claims jwtClaims
	_, err := p.ParseWithClaims(s, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub := c.signing.public[kid]
		if pub == nil {
			return nil, errs.BadSignature
		}
		return pub, nil
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenInvalidClaims) {
			// The signature verified (the parser checks it first) and
			// a claim refused it (exp, nbf, iat, aud, iss): a refused
			// check's record names the JWT, its agent and hops, as it
			// names a token past its expiry.
			if v, _, verr := c.jwtCredential(&claims); verr == nil {
				*cr = v.cred
			}
		}
		return jwtError(err)
	}
	v, cost, err := c.jwtCredential(&claims)
	if err != nil {
		return err
	}
	if !c.tokenCacheOff {
		c.tokens.Put(strings.Clone(s), v, credentialCost(s, cost+int64(len(claims.Subject)+len(claims.ID)+len(claims.KeyID)+len(claims.MasterKey))))
	}
	*cr = v.cred
	return nil
}

// jwtCredential reads the credential a JWT of verified signature
// carries, and what caching it costs.
func (c *Client) jwtCredential(claims *jwtClaims) (*verifiedJWT, int64, error) {
	if claims.Tenant != c.tenant {
		return nil, 0, errs.BadSignature
	}
	if validTokenPart(claims.ID) != nil || validTokenPart(claims.KeyID) != nil || claims.Subject == "" || claims.ExpiresAt == nil {
		return nil, 0, ErrMalformedCredential
	}
	if claims.MasterKey != "" {
		if validTokenPart(claims.MasterKey) != nil {
			return nil, 0, ErrMalformedCredential
		}
		// Made from a token: it dies with the master key that minted it,
		// as the token does.
		if c.keyring.byID[claims.MasterKey] == nil {
			return nil, 0, errs.BadSignature
		}
	}
	v := &verifiedJWT{cred: credential{id: claims.ID, keyID: claims.KeyID, agent: claims.Subject, expires: claims.ExpiresAt.Time, master: claims.MasterKey}}
	var cost int64
	var tenant, agent string // noted, not used: the claims say these
	for _, text := range claims.Caveats {
		cv, err := cond.Parse(text)
		if err != nil {
			return nil, 0, &CaveatError{Caveat: text, Msg: err.Error()}
		}
		// Hops and the earliest "expires" caveat are the JWT's, as for a
		// token: revoking a hop it carries kills it (see NarrowJWT).
		noteCaveat(&cv, &tenant, &agent, &v.cred.hops, &v.cred.expires)
		v.cred.conds = append(v.cred.conds, cv)
		cost += caveatCost(text)
	}
	if len(v.cred.hops) > maxDelegationDepth {
		return nil, 0, errs.DelegationDepth
	}
	return v, cost, nil
}

func jwtError(err error) error {
	switch {
	case errors.Is(err, errs.BadSignature), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errs.BadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errs.Audience
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return errs.Algorithm
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, jwt.ErrTokenMalformed):
		return ErrMalformedCredential
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fmt.Errorf("%w: %v", errs.BadSignature, err)
	}
	return fmt.Errorf("%w: %v", ErrMalformedCredential, err)
}

// The names an agenttrust JWT gives meaning to. encoding/json matches
// object keys to fields without regard to case, so a case variant of one
// of these ("Exp", "EXP", "ſub") is another spelling of it and refused.
var (
	jwtHeaderNames = []string{"alg", "kid", "typ"}
	jwtClaimNames  = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "tenant", "key", "caveats", "mk"}
)

// maxJWTNames bounds the names in a JWT header or claim set.
const maxJWTNames = 32

// strictJWT refuses a JWT that is not in its one canonical form: three
// segments of unpadded base64url (no CR, LF or spaces, which the base64
// decoder would skip, no padding, no other alphabet), each a JSON object
// of valid UTF-8 whose names are unique even ignoring case, with exp, nbf
// and iat numbers, never strings.
func strictJWT(s string) error {
	segs := 0
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '.':
			segs++
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_':
		default:
			return ErrMalformedCredential
		}
	}
	if segs != 2 {
		return ErrMalformedCredential
	}
	head, rest, _ := strings.Cut(s, ".")
	claims, _, _ := strings.Cut(rest, ".")
	if err := strictJWTObject(head, jwtHeaderNames, nil); err != nil {
		return err
	}
	return strictJWTObject(claims, jwtClaimNames, []string{"exp", "nbf", "iat"})
}

// strictJWTObject checks one JSON segment: see strictJWT.
func strictJWTObject(seg string, known, numeric []string) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil || base64.RawURLEncoding.EncodedLen(len(b)) != len(seg) {
		return ErrMalformedCredential
	}
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: not valid UTF-8", errs.JWTClaims)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("%w: not a JSON object", errs.JWTClaims)
	}
	seen := make(map[string]bool, 8)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", errs.JWTClaims, err)
		}
		name := t.(string) // object keys are strings
		folded := foldName(name)
		if seen[folded] {
			return fmt.Errorf("%w: %q appears twice", errs.JWTClaims, name)
		}
		if len(seen) == maxJWTNames {
			return fmt.Errorf("%w: more than %d names", errs.JWTClaims, maxJWTNames)
		}
		seen[folded] = true
		for _, k := range known {
			if name != k && folded == k {
				return fmt.Errorf("%w: %q is a case variant of %q", errs.JWTClaims, name, k)
			}
		}
		if slices.Contains(numeric, name) {
			v, err := dec.Token()
			if _, ok := v.(json.Number); err != nil || !ok {
				return fmt.Errorf("%w: %q must be a number", errs.JWTClaims, name)
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("%w: %v", errs.JWTClaims, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Errorf("%w: %v", errs.JWTClaims, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", errs.JWTClaims)
	}
	return nil
}

// foldName maps every spelling encoding/json takes for one object key to
// the same string: each rune to the smallest of its case-folding orbit,
// ASCII letters to lower case.
func foldName(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		if min < utf8.RuneSelf {
			min = unicode.ToLower(min)
		}
		b.WriteRune(min)
	}
	return b.String()
}
