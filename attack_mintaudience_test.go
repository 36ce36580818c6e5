package agenttrust_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackMintAudienceSpoof: a JWT's audience is shown in its mint
// record and decides which resource server takes it. One that holds an
// invisible character, a non-ASCII space or a decomposed letter looks
// like another audience in the record while binding the JWT to
// something else: it is refused, so a record's audience is what it
// looks like.
func TestAttackMintAudienceSpoof(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	ctx := context.Background()
	key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Name: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	audiences := []struct{ name, aud string }{
		{"zero width space", "https://mail.example\u200b"},
		{"right-to-left override", "https://\u202eelpmaxe.liam"},
		{"word joiner", "https://mail\u2060.example"},
		{"no-break space", "https://mail.example\u00a0"},
		{"soft hyphen", "https://mail.exam\u00adple"},
		{"decomposed letter", "https://cafe\u0301.example"},
		{"trailing space", "https://mail.example "},
	}
	mints := []struct {
		name string
		mint func(aud string) (string, error)
	}{
		{"exchange jwt", func(aud string) (string, error) { return f.c.ExchangeJWT(ctx, key, aud) }},
		{"narrow jwt", func(aud string) (string, error) { s, _, err := f.c.NarrowJWT(ctx, tok, aud, 0); return s, err }},
	}
	for _, m := range mints {
		for _, a := range audiences {
			t.Run(m.name+"/"+a.name, func(t *testing.T) {
				s, err := m.mint(a.aud)
				if !errors.Is(err, agenttrust.ErrInvalidRequest) || s != "" {
					t.Errorf("audience %q: %v, %v; want nothing and ErrInvalidRequest", a.aud, s != "", err)
				}
			})
		}
	}
	for _, r := range mintRecords(f.records(t), "agenttrust.exchange_jwt") {
		t.Errorf("a refused JWT was recorded: %s", r.Attributes)
	}
}
