package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	macaroon "gopkg.in/macaroon.v2"

	"github.com/agenttrust/agenttrust"
)

// jwtAudience is the audience of the JWTs the section mints and verifies.
const jwtAudience = "agenttrust"

// jwtClaims are the claims of an agenttrust JWT, as a golang-jwt user
// would declare them to verify one.
type jwtClaims struct {
	jwt.RegisteredClaims
	Tenant  string   `json:"tenant"`
	KeyID   string   `json:"key"`
	Caveats []string `json:"caveats,omitempty"`
}

// credCase is one row of the credentials table: decide verifies one
// credential (and for agenttrust checks the request it carries); vs names
// the agenttrust row a peer is compared with.
type credCase struct {
	name, label, vs string
	decide          func() (bool, error)
}

// runCredentials times credential verification: an agenttrust token (a
// macaroon with tenant, agent and expiry caveats) and an agenttrust JWT
// (EdDSA) carried by a Check of the scenario's allowed request, uncached
// and cached, beside gopkg.in/macaroon.v2 decoding and verifying the same
// macaroon and golang-jwt parsing and verifying the same JWT (EdDSA) and
// its claims signed with HS256. The libraries only verify; Check also
// validates caveats, revocation, the policy and the audit record.
func runCredentials(ctx context.Context, w io.Writer, o options, rep *report) error {
	cases, closeAll, err := credentialCases(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	fmt.Fprintln(w, "credentials: verify one credential; agenttrust rows also check the request it carries")
	fmt.Fprintf(w, "%-52s %10s %7s %8s  %s\n", "case", "ns/op", "allocs", "x", "(x = this row's ns/op over agenttrust's)")
	runs := make([][]result, len(cases))
	for range o.count {
		for i, c := range cases {
			r, err := measure("credentials/"+c.name, c.decide, true)
			if err != nil {
				return err
			}
			runs[i] = append(runs[i], r)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	got := map[string]result{}
	for i, c := range cases {
		r := median(runs[i])
		got[c.name] = r
		rep.Results = append(rep.Results, r)
		x, vs := "", ""
		if c.vs != "" {
			x, vs = fmt.Sprintf("%.2fx", ratio(r, got[c.vs])), "vs "+c.vs
		}
		line := fmt.Sprintf("%-52s %10s %7d %8s  %s", c.label, ns(r), r.AllocsPerOp, x, vs)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	fmt.Fprintln(w)

	tok, lib := got["token"], got["macaroon.v2"]
	x := tok.NsPerOp / lib.NsPerOp
	rep.Bars = append(rep.Bars, bar{
		Name: "token verify + check vs macaroon.v2 unmarshal + verify",
		Want: "<= 1.0x its time", Got: fmt.Sprintf("%.2fx", x), Value: x, Pass: x <= 1.0,
		Note: fmt.Sprintf("uncached; cached: %.2fx", got["token-cached"].NsPerOp/lib.NsPerOp),
	})
	return nil
}

// credentialCases builds the credentials and the verifiers of each row.
func credentialCases(ctx context.Context) ([]credCase, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, f := range closers {
			f()
		}
	}
	fail := func(err error) ([]credCase, func(), error) { closeAll(); return nil, nil, err }

	// Two clients: one verifies every use, one caches verified tokens
	// (the default). Each mints a token and a JWT for agent a1.
	type minted struct {
		c        *agenttrust.Client
		tok, jwt string
	}
	var m [2]minted
	for i, noCache := range []bool{true, false} {
		c, err := newAgenttrust(0, agenttrust.WithTokens(agenttrust.TokenConfig{NoCache: noCache}))
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { c.Close() })
		secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: allowRequest.agent})
		if err != nil {
			return fail(err)
		}
		tok, err := c.Exchange(ctx, secret) // tenant, agent, expiry: 3 caveats
		if err != nil {
			return fail(err)
		}
		signed, err := c.ExchangeJWT(ctx, secret, jwtAudience)
		if err != nil {
			return fail(err)
		}
		m[i] = minted{c, tok, signed}
	}
	c, tok, signed := m[0].c, m[0].tok, m[0].jwt

	check := func(c *agenttrust.Client, cred string) func() (bool, error) {
		req := agenttrust.Request{Credential: cred, Tool: allowRequest.tool, Resource: allowRequest.resource, Attributes: allowRequest.attrs}
		return func() (bool, error) {
			d, err := c.Check(ctx, req)
			return d.Allowed(), err
		}
	}

	// gopkg.in/macaroon.v2 on the same macaroon: decode the binary
	// form, verify the chain from the root key, accept every caveat.
	info, err := agenttrust.InspectTokenUnverified(tok)
	if err != nil {
		return fail(err)
	}
	h := hmac.New(sha256.New, benchMasterKey.Secret)
	h.Write([]byte(info.ID))
	root := h.Sum(nil)
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, agenttrust.TokenPrefix))
	if err != nil {
		return fail(err)
	}
	macaroonLib := func() (bool, error) {
		var m macaroon.Macaroon
		if err := m.UnmarshalBinary(raw); err != nil {
			return false, err
		}
		if err := m.Verify(root, func(string) error { return nil }, nil); err != nil {
			return false, err
		}
		return true, nil
	}

	// golang-jwt on the same JWT with the issuer's public key, and on its
	// claims signed with HS256, validating iss, aud and exp.
	var pub any
	for _, k := range c.PublicKeys() {
		pub = k
	}
	var claims jwtClaims
	if _, _, err := jwt.NewParser().ParseUnverified(signed, &claims); err != nil {
		return fail(err)
	}
	hsKey := root // 32 bytes
	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(hsKey)
	if err != nil {
		return fail(err)
	}
	golangJWT := func(s, alg string, key any) func() (bool, error) {
		p := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(claims.Issuer),
			jwt.WithAudience(jwtAudience), jwt.WithExpirationRequired())
		keyFunc := func(*jwt.Token) (any, error) { return key, nil }
		return func() (bool, error) {
			var cl jwtClaims
			t, err := p.ParseWithClaims(s, &cl, keyFunc)
			if err != nil {
				return false, err
			}
			return t.Valid && cl.Subject == allowRequest.agent, nil
		}
	}

	return []credCase{
		{"token", "agenttrust token (3 caveats), verify + Check", "", check(c, tok)},
		{"token-cached", "agenttrust token, cached verify + Check", "", check(m[1].c, m[1].tok)},
		{"macaroon.v2", "gopkg.in/macaroon.v2 unmarshal + verify", "token", macaroonLib},
		{"golang-jwt-hs256", "golang-jwt/jwt/v5 HS256 parse + verify", "token", golangJWT(hs, "HS256", hsKey)},
		{"jwt", "agenttrust JWT (EdDSA), verify + Check", "", check(c, signed)},
		{"jwt-cached", "agenttrust JWT, cached verify + Check", "", check(m[1].c, m[1].jwt)},
		{"golang-jwt-eddsa", "golang-jwt/jwt/v5 EdDSA parse + verify", "jwt", golangJWT(signed, "EdDSA", pub)},
	}, closeAll, nil
}
