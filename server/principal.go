package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store"
)

// permits reports whether req, an action asked for by the holder of p's
// credential, lies within the credential's caveats: a
// *agenttrust.CaveatError naming the first caveat that does not hold, or
// nil. The server asks it when a narrowed caller asks about an action
// that is not checked with its own credential (it checks another's, or
// reads an approval). Only caveats that bind actions are evaluated (the
// Principal lists no other); req.AgentID is not compared.
func permits(p *agenttrust.Principal, req agenttrust.Request) error {
	if len(p.Caveats) == 0 {
		return nil
	}
	env := cond.Env{Agent: p.AgentID, Tenant: p.Tenant, Hops: p.HopIDs, Attributes: req.Attributes}
	for _, f := range [...]struct {
		name string
		dst  *string
		src  string
		max  int
	}{
		{"tool", &env.Tool, req.Tool, 256}, {"resource", &env.Resource, req.Resource, maxResourceLen},
		{"session id", &env.Session, req.SessionID, 256}, {"on_behalf_of", &env.OnBehalfOf, req.OnBehalfOf, 256},
	} {
		s, err := normText(f.name, f.src, f.max)
		if err != nil {
			return err
		}
		*f.dst = s
	}
	for _, s := range p.Caveats {
		cv, err := cond.Parse(s)
		if err != nil {
			return &agenttrust.CaveatError{Caveat: s, Msg: err.Error()}
		}
		if !cv.Field.BindsAction() || !cv.Eval(&env) {
			return &agenttrust.CaveatError{Caveat: s, Msg: "does not hold for this request"}
		}
	}
	return nil
}

// maxResourceLen is the longest resource a request may name, as
// package agenttrust bounds it.
const maxResourceLen = 1024

// normText checks text a request holds as package agenttrust does (at
// most maxLen bytes of valid UTF-8 without control characters) and
// returns it in Unicode NFC, the form caveats compare against.
func normText(field, s string, maxLen int) (string, error) {
	if len(s) > maxLen {
		return "", fmt.Errorf("%w: %s longer than %d bytes", agenttrust.ErrInvalidRequest, field, maxLen)
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f {
			return "", fmt.Errorf("%w: control character in %s", agenttrust.ErrInvalidRequest, field)
		}
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: %s is not valid UTF-8", agenttrust.ErrInvalidRequest, field)
	}
	return cond.NFC(s), nil
}

// credentialTenant returns the tenant a credential claims, without
// verifying anything: an API key's tenant comes from the store, a
// token's or JWT's from its own unverified contents. It picks the
// tenant's Client, which then authenticates the credential for real.
func credentialTenant(ctx context.Context, st store.Keys, cred string) (string, error) {
	switch {
	case len(cred) > agenttrust.MaxCredentialSize:
		return "", errs.CredentialTooLarge
	case strings.HasPrefix(cred, agenttrust.KeyPrefix):
		k, err := apikey.Parse(cred)
		if err != nil {
			if errors.Is(err, apikey.ErrChecksum) {
				return "", errs.KeyChecksum
			}
			return "", agenttrust.ErrMalformedCredential
		}
		stored, err := st.KeyByHash(ctx, k.Hash())
		if errors.Is(err, store.ErrNotFound) {
			return "", errs.UnknownKey
		}
		if err != nil {
			return "", storeErr("key lookup", err)
		}
		return stored.Tenant, nil
	case strings.HasPrefix(cred, agenttrust.TokenPrefix):
		info, err := agenttrust.InspectTokenUnverified(cred)
		if err != nil {
			return "", err
		}
		return info.Tenant, nil
	case strings.HasPrefix(cred, "eyJ") && strings.Count(cred, ".") == 2:
		var claims struct {
			jwt.RegisteredClaims
			Tenant string `json:"tenant"`
		}
		if _, _, err := jwt.NewParser().ParseUnverified(cred, &claims); err != nil {
			return "", agenttrust.ErrMalformedCredential
		}
		return claims.Tenant, nil
	}
	return "", errs.UnsupportedCredential
}
