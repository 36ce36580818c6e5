package console

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/agenttrust/agenttrust/internal/entropy"
	"github.com/agenttrust/agenttrust/internal/wire"
)

// constantSource reports success while it fills every read with one
// byte: a zeroed buffer or a stub where a random source should be.
type constantSource byte

func (b constantSource) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// emptySource answers (0, nil), until it gives up after 10,000 reads so
// that a caller looping on it (io.ReadFull) ends.
type emptySource struct{ n int }

func (s *emptySource) Read([]byte) (int, error) {
	if s.n++; s.n >= 10_000 {
		return 0, io.ErrUnexpectedEOF
	}
	return 0, nil
}

// TestAttackSessionFromBrokenRandom: the session cookie and CSRF token
// are read from Config.Random as it comes. A source that breaks without
// an error made every session id the same, base64 of 32 zero bytes (or
// of one byte repeated): a stranger sending that cookie was signed in
// as whoever signed in last, and the CSRF token was as guessable. A
// sign-in on such a source must fail and make no session.
func TestAttackSessionFromBrokenRandom(t *testing.T) {
	who := wire.PrincipalView{Tenant: "acme", AgentID: "alice", KeyID: "key_alice", Roles: []string{"admin"}}
	cases := []struct {
		name   string
		source io.Reader
		want   error
		guess  string // the cookie a stranger would send
	}{
		{"zeros", constantSource(0), entropy.ErrConstant, base64.RawURLEncoding.EncodeToString(make([]byte, 32))},
		{"one byte repeated", constantSource('A'), entropy.ErrConstant, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE"},
		{"no bytes", &emptySource{}, entropy.ErrNoProgress, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{API: http.NotFoundHandler(), Random: tc.source})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			id, s, err := c.newSession("atk_alice", who)
			if !errors.Is(err, tc.want) {
				t.Errorf("newSession: err = %v, want %v", err, tc.want)
			}
			if id != "" || s != nil {
				t.Errorf("made session %q from a broken source", id)
			}
			c.sessions.mu.Lock()
			n := len(c.sessions.m)
			_, guessed := c.sessions.m[sha256.Sum256([]byte(tc.guess))]
			c.sessions.mu.Unlock()
			if n != 0 || guessed {
				t.Errorf("%d sessions held (the guessed cookie's: %v)", n, guessed)
			}
			if es, ok := tc.source.(*emptySource); ok && es.n >= 10_000 {
				t.Errorf("read %d times from a source returning nothing", es.n)
			}
		})
	}
}
