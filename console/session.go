package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// Cookie names: with the __Host- prefix over TLS (the browser then
// insists on Secure, Path=/ and no Domain), plain otherwise.
const (
	cookieTLS   = "__Host-agenttrust_console"
	cookiePlain = "agenttrust_console"
)

// session is one signed-in person. The cookie holds a random id; the
// console keeps only its SHA-256.
type session struct {
	key     string // the person's API key, sent as bearer to the API
	who     wire.PrincipalView
	csrf    string
	created time.Time

	mu    sync.Mutex
	seen  time.Time
	flash string
}

func (s *session) isAdmin() bool    { return hasRole(s.who.Roles, store.RoleAdmin) }
func (s *session) isApprover() bool { return hasRole(s.who.Roles, store.RoleApprover) }

func hasRole(roles []string, r string) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// setFlash keeps a message for the next page shown; takeFlash returns it
// once.
func (s *session) setFlash(msg string) { s.mu.Lock(); s.flash = msg; s.mu.Unlock() }
func (s *session) takeFlash() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flash
	s.flash = ""
	return f
}

// maxSessionsPerKey bounds the sessions one API key holds; a sign-in
// beyond it ends that key's session idle the longest.
const maxSessionsPerKey = 16

type sessions struct {
	mu sync.Mutex
	m  map[[32]byte]*session
}

func (c *Console) randomToken() (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(c.random, b[:]); err != nil {
		return "", fmt.Errorf("agenttrust/console: random source: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// newSession starts a session and returns its cookie value.
func (c *Console) newSession(key string, who wire.PrincipalView) (string, *session, error) {
	id, err := c.randomToken()
	if err != nil {
		return "", nil, err
	}
	tok, err := c.randomToken()
	if err != nil {
		return "", nil, err
	}
	now := c.now()
	s := &session{key: key, who: who, csrf: tok, created: now, seen: now}
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	// Sweep ended sessions. A key at its bound ends its own session idle
	// the longest, so that no key can end other people's. At the overall
	// bound, the tenant holding the most sessions (the signer's counting
	// this one) ends its session idle the longest: a tenant's admin makes
	// as many keys as it likes, and with them must end only its own.
	type held struct {
		n      int
		oldest [32]byte
		seen   time.Time
	}
	tenants := map[string]*held{}
	var oldestMine [32]byte
	var oldestMineSeen time.Time
	mine := 0
	for h, x := range c.sessions.m {
		x.mu.Lock()
		seen := x.seen
		x.mu.Unlock()
		if c.ended(x, seen, now) {
			delete(c.sessions.m, h)
			continue
		}
		t := tenants[x.who.Tenant]
		if t == nil {
			t = &held{}
			tenants[x.who.Tenant] = t
		}
		t.n++
		if t.seen.IsZero() || seen.Before(t.seen) {
			t.oldest, t.seen = h, seen
		}
		if x.who.Tenant == who.Tenant && x.who.KeyID == who.KeyID {
			mine++
			if oldestMineSeen.IsZero() || seen.Before(oldestMineSeen) {
				oldestMine, oldestMineSeen = h, seen
			}
		}
	}
	if mine >= maxSessionsPerKey {
		delete(c.sessions.m, oldestMine)
	} else if len(c.sessions.m) >= MaxSessions {
		var most *held
		if t := tenants[who.Tenant]; t != nil {
			t.n++ // ties end the signer's own
			most = t
		}
		for _, t := range tenants {
			if most == nil || t.n > most.n {
				most = t
			}
		}
		delete(c.sessions.m, most.oldest)
	}
	c.sessions.m[sha256.Sum256([]byte(id))] = s
	return id, s, nil
}

func (c *Console) ended(s *session, seen, now time.Time) bool {
	return now.Sub(seen) >= c.idle || now.Sub(s.created) >= c.maxAge
}

// lookup returns the request's live session; touch counts the request as
// activity (a live stream's reads do not).
func (c *Console) lookup(r *http.Request, touch bool) (*session, [32]byte, bool) {
	var h [32]byte
	ck, err := r.Cookie(c.cookieName(r))
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return nil, h, false
	}
	h = sha256.Sum256([]byte(ck.Value))
	c.sessions.mu.Lock()
	s, ok := c.sessions.m[h]
	c.sessions.mu.Unlock()
	if !ok {
		return nil, h, false
	}
	now := c.now()
	s.mu.Lock()
	seen := s.seen
	if !c.ended(s, seen, now) && touch {
		s.seen = now
	}
	s.mu.Unlock()
	if c.ended(s, seen, now) {
		c.endSession(h)
		return nil, h, false
	}
	return s, h, true
}

// alive reports whether a session still stands, without touching it.
func (c *Console) alive(s *session, h [32]byte) bool {
	c.sessions.mu.Lock()
	cur, ok := c.sessions.m[h]
	c.sessions.mu.Unlock()
	if !ok || cur != s {
		return false
	}
	s.mu.Lock()
	seen := s.seen
	s.mu.Unlock()
	return !c.ended(s, seen, c.now())
}

func (c *Console) endSession(h [32]byte) {
	c.sessions.mu.Lock()
	delete(c.sessions.m, h)
	c.sessions.mu.Unlock()
}

// secure reports whether the browser's request came over TLS: to this
// server, or to a TLS-terminating proxy in front (Config.SecureCookies).
func (c *Console) secure(r *http.Request) bool { return r.TLS != nil || c.tls }

func (c *Console) cookieName(r *http.Request) string {
	if c.secure(r) {
		return cookieTLS
	}
	return cookiePlain
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: c.cookieName(r), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// validCSRF compares the form's token with the session's in constant time.
func validCSRF(s *session, r *http.Request) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// maxForm bounds a form body.
const maxForm = 16 << 10

// fromPerson reports whether a request counts as the person's activity:
// from the console's own pages or the person's own navigation
// (Sec-Fetch-Site same-origin or none), or from a client that does not
// say. SameSite=Strict also sends the cookie with a same-site request,
// an image on a page of a sibling subdomain, which must not keep an
// unattended session alive.
func fromPerson(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, s *session, h [32]byte)

// signedIn wraps a handler that needs a session: without one, a page
// redirects to sign-in and anything else answers 401. A POST also needs
// the session's CSRF token. Then the API must still accept the session's
// key (verify); when it no longer does, the session ends, as if it had
// not been there.
func (c *Console) signedIn(fn sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		live := strings.HasPrefix(r.URL.Path, "/ui/events/")
		s, h, ok := c.lookup(r, !live && fromPerson(r))
		if !ok {
			if r.Method == http.MethodGet && !live && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				// A link from elsewhere (a chat, a mail): the browser
				// withheld the SameSite=Strict cookie. A same-origin
				// reload sends it, if there is one.
				c.render(w, http.StatusOK, "bounce", &view{Title: "Opening the console", Data: r.URL.Path})
				return
			}
			if r.Method == http.MethodGet && !live {
				http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if !validCSRF(s, r) {
				http.Error(w, "missing or wrong CSRF token", http.StatusForbidden)
				return
			}
		}
		if err := c.verify(r, s); err != nil {
			if !live {
				c.fail(w, r, s, h, err)
				return
			}
			status := http.StatusBadGateway
			var ae *apiError
			switch {
			case errors.Is(err, errSignedOut):
				c.signOut(w, r, h)
				status = http.StatusUnauthorized
			case errors.As(err, &ae):
				status = ae.status
			}
			http.Error(w, err.Error(), status)
			return
		}
		fn(w, r, s, h)
	}
}

// verify asks the API whether it still accepts the session's key as the
// one the person signed in with, before anything is rendered from the
// session: a key revoked or expired ends its sessions at their next
// request, whether or not the page itself calls the API. It is one call
// a request, not cached, so no request is served after the key's end.
func (c *Console) verify(r *http.Request, s *session) error {
	var who wire.PrincipalView
	if err := c.callAPI(r, s.key, http.MethodGet, "/v1/whoami", nil, &who); err != nil {
		return err
	}
	if who.Tenant != s.who.Tenant || who.KeyID != s.who.KeyID || who.AgentID != s.who.AgentID ||
		!slices.Equal(who.Roles, s.who.Roles) {
		return errSignedOut
	}
	return nil
}

// signOut ends the session and clears its cookie.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, h [32]byte) {
	c.endSession(h)
	c.setCookie(w, r, "", -1)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, h, ok := c.lookup(r, false); ok {
		err := c.verify(r, s)
		if err == nil {
			http.Redirect(w, r, "/ui/approvals", http.StatusSeeOther)
			return
		}
		if errors.Is(err, errSignedOut) {
			c.signOut(w, r, h)
		}
	}
	c.render(w, http.StatusOK, "login", &view{Title: "Sign in"})
}

// errSignIn is all a failed sign-in learns: not which check failed.
const errSignIn = "Sign-in failed: give an approver or admin API key of your tenant."

// login exchanges an approver or admin API key for a session. Agent keys,
// tokens, JWTs and narrowed credentials cannot sign in.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	key := strings.TrimSpace(r.PostFormValue("key"))
	fail := func() {
		c.render(w, http.StatusUnauthorized, "login", &view{Title: "Sign in", Flash: errSignIn, FlashErr: true})
	}
	if !strings.HasPrefix(key, agenttrust.KeyPrefix) || len(key) > agenttrust.MaxCredentialSize {
		fail()
		return
	}
	var who wire.PrincipalView
	if err := c.callAPI(r, key, http.MethodGet, "/v1/whoami", nil, &who); err != nil {
		fail()
		return
	}
	if who.CredentialID != who.KeyID || len(who.HopIDs) > 0 || len(who.Caveats) > 0 ||
		!hasRole(who.Roles, store.RoleAdmin) && !hasRole(who.Roles, store.RoleApprover) {
		c.log.Info("agenttrust/console: sign-in refused", "tenant", who.Tenant, "by_key", who.KeyID, "reason", "not an approver or admin key")
		fail()
		return
	}
	id, s, err := c.newSession(key, who)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	c.audit(s, "sign-in", who.KeyID, nil)
	c.setCookie(w, r, id, 0)
	http.Redirect(w, r, "/ui/approvals", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session, h [32]byte) {
	c.signOut(w, r, h)
	c.audit(s, "sign-out", s.who.KeyID, nil)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}
