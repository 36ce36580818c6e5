// Package console is the web console of agenttrust: a few server-rendered
// pages for the people in the loop, mounted by the server at /ui/
// (server.WithConsole). Approvers answer pending approvals, live; admins
// also suspend and resume agents, revoke keys, tokens and delegation hops,
// and watch the decision stream with the audit chains' verification.
//
// The console holds no authority of its own. A person signs in with an
// approver or admin API key; the console keeps the key in its memory for
// the session and makes every read and every action as a call to the
// server's API with that key, in process. The API authenticates and
// authorizes each call as it would a direct one (roles, the approval rules
// of the library, tenant scoping, IP allowlists), so the console cannot
// grant what the key cannot do. The one thing it reads beside the API is
// the stored delegation hops of the person's own tenant, for the tree on
// the Agents page, and only for admins.
//
// Security: the session cookie is HttpOnly, SameSite=Strict, Secure over
// TLS (and then named with the __Host- prefix), and ends after an idle
// timeout or at sign-out; every state-changing request needs the
// session's CSRF token and passes net/http's cross-origin protection
// (Sec-Fetch-Site and Origin); every response carries a strict
// Content-Security-Policy without inline script, and over TLS
// Strict-Transport-Security; every string an agent
// controls is escaped by html/template and never becomes a link or part
// of a URL (a form carries an id in a field, never in its action). See
// SECURITY.md.
package console

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust/internal/entropy"
	"github.com/agenttrust/agenttrust/store"
)

//go:embed assets templates
var files embed.FS

// Defaults of Config.
const (
	DefaultIdleTimeout = 15 * time.Minute
	DefaultMaxSession  = 12 * time.Hour
	DefaultPoll        = time.Second
	// MaxSessions bounds the sessions held at once; a sign-in beyond it
	// ends the session idle the longest of the tenant holding the most.
	MaxSessions = 10000
)

// Config configures New. API is required; the rest have defaults.
type Config struct {
	// API is the server's API handler (what server.WithConsole passes).
	API http.Handler
	// Store, when set, gives the Agents page the delegation trees from
	// the stored hops of the signed-in person's tenant.
	Store store.Store
	// Now and Random default to the system's clock and randomness.
	Now    func() time.Time
	Random io.Reader
	// IdleTimeout ends a session without a request for this long
	// (default DefaultIdleTimeout); MaxSession ends any session this long
	// after sign-in (default DefaultMaxSession).
	IdleTimeout time.Duration
	MaxSession  time.Duration
	// Poll is how often a live page (server-sent events) reads the API
	// for changes (default DefaultPoll).
	Poll time.Duration
	// Logger receives one record per console action, with the person's
	// key id (default: discard).
	Logger *slog.Logger
	// SecureCookies makes the session cookie Secure, with the __Host-
	// prefix, on every request, as over TLS: set it when browsers reach
	// the console through a TLS-terminating proxy (the console then sees
	// plain HTTP), so the cookie never goes out over plain HTTP.
	SecureCookies bool
}

// Console is the web console: an http.Handler for the paths under /ui/.
// It is safe for concurrent use. Close ends its live streams.
type Console struct {
	api      http.Handler
	st       store.Store
	now      func() time.Time
	random   io.Reader
	idle     time.Duration
	maxAge   time.Duration
	poll     time.Duration
	log      *slog.Logger
	tls      bool // Config.SecureCookies
	pages    map[string]*template.Template
	assets   http.Handler
	mux      *http.ServeMux
	sessions sessions
	live     liveStreams
	cop      *http.CrossOriginProtection
	chainsMu sync.Mutex
	chains   map[string]*chain // tenant + approval id: see chainOf

	ctx    context.Context
	cancel context.CancelFunc
}

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("agenttrust/console: invalid config")

// New returns a console over cfg.API.
func New(cfg Config) (*Console, error) {
	if cfg.API == nil {
		return nil, fmt.Errorf("%w: nil API handler", ErrConfig)
	}
	if cfg.IdleTimeout < 0 || cfg.MaxSession < 0 || cfg.Poll < 0 {
		return nil, fmt.Errorf("%w: negative duration", ErrConfig)
	}
	c := &Console{api: cfg.API, st: cfg.Store, now: cfg.Now, random: cfg.Random,
		idle: cfg.IdleTimeout, maxAge: cfg.MaxSession, poll: cfg.Poll, log: cfg.Logger, tls: cfg.SecureCookies}
	if c.now == nil {
		c.now = time.Now
	}
	if c.random == nil {
		c.random = rand.Reader
	}
	// Session ids and CSRF tokens are drawn from it: one that breaks
	// without an error fails the sign-in rather than make them guessable.
	c.random = entropy.NewReader(c.random)
	if c.idle == 0 {
		c.idle = DefaultIdleTimeout
	}
	if c.maxAge == 0 {
		c.maxAge = DefaultMaxSession
	}
	if c.poll == 0 {
		c.poll = DefaultPoll
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c.pages = pages
	sub, _ := fs.Sub(files, "assets") // a fixed, embedded directory
	c.assets = http.StripPrefix("/ui/assets/", http.FileServerFS(sub))
	c.sessions.m = map[[32]byte]*session{}
	c.chains = map[string]*chain{}
	c.cop = http.NewCrossOriginProtection()
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.routes()
	return c, nil
}

// Close ends every live stream; pages still work. Call it when the
// server shuts down, so that open streams do not hold it up.
func (c *Console) Close() { c.cancel() }

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/approvals", http.StatusSeeOther)
	})
	m.HandleFunc("GET /ui/assets/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		c.assets.ServeHTTP(w, r)
	})
	m.HandleFunc("GET /ui/login", c.loginPage)
	m.HandleFunc("POST /ui/login", c.login)
	m.HandleFunc("POST /ui/logout", c.signedIn(c.logout))
	m.HandleFunc("GET /ui/approvals", c.signedIn(c.approvalsPage))
	// Ids an agent chose never go in a path (a browser resolves "/" and
	// ".." in it): every form carries its id in a field.
	m.HandleFunc("POST /ui/approvals/{verb}", c.signedIn(c.decide))
	m.HandleFunc("GET /ui/agents", c.signedIn(c.agentsPage))
	m.HandleFunc("POST /ui/agents/{verb}", c.signedIn(c.suspendResume))
	m.HandleFunc("GET /ui/revoke", c.signedIn(c.revokePage))
	m.HandleFunc("POST /ui/revoke", c.signedIn(c.revoke))
	m.HandleFunc("GET /ui/activity", c.signedIn(c.activityPage))
	m.HandleFunc("GET /ui/events/{page}", c.signedIn(c.events))
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found", http.StatusNotFound)
	})
	c.mux = m
}

// csp is the Content-Security-Policy of every response: scripts, styles
// and connections from the console's own origin only, no inline script or
// style, no plugins, no framing, forms posting only to the console.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if c.secure(r) {
		// The browser reached the console over TLS: it is never to ask
		// over plain HTTP again, where a look-alike sign-in page would
		// take the key typed in. Sibling hosts are not the console's to
		// bind (no includeSubDomains).
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if !strings.HasPrefix(r.URL.Path, "/ui/assets/") {
		h.Set("Cache-Control", "no-store")
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		// Every state-changing request: no cross-origin browser request
		// (Sec-Fetch-Site, else Origin against Host). The CSRF token is
		// checked by signedIn (and login needs no session to protect).
		if err := c.cop.Check(r); err != nil {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// audit logs a console action with the person's key id.
func (c *Console) audit(s *session, action, target string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = err.Error()
	}
	c.log.Info("agenttrust/console: action", "tenant", s.who.Tenant, "by_key", s.who.KeyID,
		"by_agent", s.who.AgentID, "action", action, "target", target, "outcome", outcome)
}

// pagePath is a console path with a query.
func pagePath(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
