package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/plainhttp"
	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/internal/storeapi"
	"github.com/agenttrust/agenttrust/internal/wire"
)

// Defaults.
const (
	// DefaultTimeout bounds each HTTP attempt unless WithTimeout says
	// otherwise.
	DefaultTimeout = 5 * time.Second
	// DefaultLongPoll is how long one request of WaitApproval asks the
	// server to hold it.
	DefaultLongPoll = 30 * time.Second
	// maxAnswer bounds an answer's body.
	maxAnswer = 64 << 20
)

// Client talks to an agenttrust server: it checks actions (it is an
// agenttrust.Checker, failing closed), waits for approvals (an
// middleware.ApprovalWaiter) and runs the admin operations, each
// authenticated with the credential given to New. Build one with New; it
// is safe for concurrent use. The zero Client is not usable.
type Client struct {
	base    string // scheme://host[:port][/prefix], no trailing slash
	cred    string
	cfg     config
	backoff storeapi.Backoff
	closed  atomic.Bool
	tenant  atomic.Pointer[string] // of cred, once known (ownTenant)
}

var _ agenttrust.Checker = (*Client)(nil)

type config struct {
	hc        *http.Client
	ownHC     bool
	timeout   time.Duration
	retries   int
	base, max time.Duration
	userAgent string
	clock     func() time.Time
	longPoll  time.Duration
	insecure  bool
}

// Option configures New, NewStore, NewAuditSink and NewPolicyEngine.
type Option func(*config) error

// WithHTTPClient sets the HTTP client (default: a new one of the client's
// own). Its Transport and Jar are used; its Timeout, if any, applies on
// top of WithTimeout; redirects are never followed, whatever its
// CheckRedirect says.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return fmt.Errorf("%w: nil http.Client", agenttrust.ErrInvalidConfig)
		}
		c.hc, c.ownHC = hc, false
		return nil
	}
}

// WithTimeout bounds each HTTP attempt (default DefaultTimeout); the
// caller's context bounds the whole call, retries included. A long poll of
// WaitApproval gets the poll's length on top.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: timeout must be positive", agenttrust.ErrInvalidConfig)
		}
		c.timeout = d
		return nil
	}
}

// WithRetries repeats a call up to n more times after a transport failure
// (no answer, a timed-out attempt) or a 502, 503 or 504, waiting with
// exponential backoff and jitter between attempts. Only calls that are
// safe to repeat are retried: reads, Check (a repeated check is another
// decision on the same request), Revoke, Suspend and the store API's
// idempotent routes. Calls that create something (CreateKey, Exchange,
// Delegate) or move a state (Approve, Resume, ApplyPolicy) are never
// repeated. The default is no retry.
func WithRetries(n int) Option {
	return func(c *config) error {
		if n < 0 || n > 10 {
			return fmt.Errorf("%w: retries must be 0-10", agenttrust.ErrInvalidConfig)
		}
		c.retries = n
		return nil
	}
}

// WithBackoff sets the delay before the first retry (default 100ms) and
// the most any retry waits (default 2s).
func WithBackoff(first, max time.Duration) Option {
	return func(c *config) error {
		if first <= 0 || max < first {
			return fmt.Errorf("%w: backoff needs 0 < first <= max", agenttrust.ErrInvalidConfig)
		}
		c.base, c.max = first, max
		return nil
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *config) error {
		if strings.ContainsAny(ua, "\r\n") {
			return fmt.Errorf("%w: user agent holds a line break", agenttrust.ErrInvalidConfig)
		}
		c.userAgent = ua
		return nil
	}
}

// WithClock sets the clock WaitApproval reads to tell that an approval
// has lapsed (default: the system clock). A clock that panics, or tells
// a time no record can hold (the zero time), fails WaitApproval with an
// error matching agenttrust.ErrInvalidConfig.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", agenttrust.ErrInvalidConfig)
		}
		c.clock = now
		return nil
	}
}

// WithLongPoll sets how long each request of WaitApproval asks the server
// to wait for a decision (default DefaultLongPoll; the server caps it).
func WithLongPoll(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: long poll must be positive", agenttrust.ErrInvalidConfig)
		}
		c.longPoll = d
		return nil
	}
}

// WithInsecureHTTP allows a plain http:// base URL to a host other than
// the loopback interface. Credentials then cross the network unencrypted:
// use it only inside a network you trust, such as a service mesh that
// adds TLS itself.
func WithInsecureHTTP() Option {
	return func(c *config) error { c.insecure = true; return nil }
}

// New returns a client of the server at baseURL ("https://host:port",
// optionally with a path prefix), authenticating every call with apiKey:
// an API key, a token or a JWT, sent as "Authorization: Bearer". Plain
// http is accepted only for loopback hosts, and not when the HTTP
// client's *http.Transport sends them to a proxy off this machine, unless
// WithInsecureHTTP is given.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	cfg := config{timeout: DefaultTimeout, base: 100 * time.Millisecond, max: 2 * time.Second, clock: time.Now, longPoll: DefaultLongPoll}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", agenttrust.ErrInvalidConfig)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	u, err := parseBase(baseURL, cfg.insecure)
	if err != nil {
		return nil, err
	}
	if err := validCredential(apiKey); err != nil {
		return nil, err
	}
	if cfg.hc == nil {
		cfg.hc, cfg.ownHC = &http.Client{Transport: newTransport()}, true
	}
	// The API never redirects: a redirect is someone else answering, and
	// following it would resend the credential and turn a POST into a GET.
	hc := *cfg.hc
	if u.Scheme == "http" && !cfg.insecure && !plainhttp.Local(u, hc.Transport) {
		return nil, fmt.Errorf("%w: plain http to %s goes through a proxy off this machine, which would see credentials unencrypted (use https, or WithInsecureHTTP)", agenttrust.ErrInvalidConfig, u.Hostname())
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.hc = &hc
	return &Client{
		base: u.String(), cred: apiKey, cfg: cfg,
		backoff: storeapi.Backoff{Retries: cfg.retries, Base: cfg.base, Max: cfg.max},
	}, nil
}

// newTransport returns the transport of a client-owned HTTP client: the
// standard one, keeping enough idle connections for an agent that checks
// from many goroutines at once (the standard keeps 2 per host).
func newTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t = t.Clone()
		t.MaxIdleConnsPerHost = 64
		return t
	}
	return http.DefaultTransport
}

func parseBase(baseURL string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		// url.Parse's error quotes the whole URL, the password of its
		// user information too: say only what is wrong with it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: base URL does not parse: %v", agenttrust.ErrInvalidConfig, err)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w: base URL must be scheme://host[:port][/path], without user, query or fragment", agenttrust.ErrInvalidConfig)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure && !plainhttp.Host(u.Hostname()) {
			return nil, fmt.Errorf("%w: plain http to %s would send credentials unencrypted (use https, or WithInsecureHTTP)", agenttrust.ErrInvalidConfig, u.Hostname())
		}
	default:
		return nil, fmt.Errorf("%w: base URL scheme must be https or http", agenttrust.ErrInvalidConfig)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

func validCredential(cred string) error {
	switch {
	case cred == "":
		return fmt.Errorf("%w: empty API key", agenttrust.ErrInvalidConfig)
	case len(cred) > agenttrust.MaxCredentialSize:
		return fmt.Errorf("%w: API key longer than %d bytes", agenttrust.ErrInvalidConfig, agenttrust.MaxCredentialSize)
	case strings.ContainsFunc(cred, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%w: API key holds a space or control character", agenttrust.ErrInvalidConfig)
	}
	return nil
}

// String describes the client without its credential.
func (c *Client) String() string { return "remote.Client(" + c.base + ")" }

// GoString implements fmt.GoStringer without the credential.
func (c *Client) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the credential.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Format prints String under every verb: fmt's verbs that a string does
// not take (%d, %o, %b, ...) would otherwise print the fields, the
// credential among them.
func (c *Client) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// Close releases idle connections of a client-owned HTTP client; later
// calls fail with agenttrust.ErrClosed (and Check denies). It is safe to
// call more than once.
func (c *Client) Close() error {
	if !c.closed.Swap(true) && c.cfg.ownHC {
		c.cfg.hc.CloseIdleConnections()
	}
	return nil
}

// call is one operation on the server's API.
type call struct {
	op     string // the method name, for errors
	method string
	path   string // below the base URL, each segment escaped
	query  url.Values
	body   any    // nil: no body
	bearer string // "" : the client's credential
	// forwardedFor, when valid, is sent as X-Forwarded-For: the address
	// of the caller whose credential this request verifies.
	forwardedFor netip.Addr
	// requestID, when set, is sent as X-Request-Id.
	requestID string
	// echoID: a successful answer must carry requestID as its one
	// X-Request-Id, as the server echoes an id it accepts; any other is
	// the answer to another request.
	echoID bool
	// credential is another credential the body carries (a checked
	// one), which no text taken from the answer may hold.
	credential string
	idempotent bool
	extra      time.Duration // added to the per-attempt timeout (long polls)
	status     int           // the success status
	out        any           // nil: no body expected
	notFound   error         // what a 404 matches; default agenttrust.ErrNotFound
	// alsoOK lists other statuses whose body decodes into out (readyz's
	// 503); do returns errAlsoOK with them.
	alsoOK int
}

// errAlsoOK reports that the answer had call.alsoOK's status.
var errAlsoOK = errors.New("agenttrust/remote: alternative status")

// do runs cl, retrying as allowed, and decodes the answer into cl.out.
func (c *Client) do(ctx context.Context, cl *call) error {
	if c.closed.Load() {
		return &Error{Op: cl.op, Message: "client closed", err: []error{agenttrust.ErrClosed}}
	}
	if err := ctx.Err(); err != nil {
		return c.ctxErr(cl, err)
	}
	var body []byte
	if cl.body != nil {
		b, err := storeapi.EncodeJSON(cl.body)
		if err != nil {
			return &Error{Op: cl.op, Message: "cannot encode the request: " + err.Error(), err: []error{agenttrust.ErrInvalidRequest}}
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		retry, err := c.once(ctx, cl, body)
		if err == nil || !retry || !cl.idempotent || attempt >= c.backoff.Retries {
			return err
		}
		if werr := c.backoff.Wait(ctx, attempt); werr != nil {
			return c.ctxErr(cl, errors.Join(werr, err))
		}
	}
}

// ctxErr reports that the caller's context ended: it matches the context's
// error and agenttrust.ErrStoreUnavailable (no answer was had).
func (c *Client) ctxErr(cl *call, err error) error {
	return &Error{Op: cl.op, Message: err.Error(), err: []error{agenttrust.ErrStoreUnavailable, err}}
}

// once makes one attempt. retry reports a failure worth repeating.
func (c *Client) once(ctx context.Context, cl *call, body []byte) (retry bool, err error) {
	unavailable := func(status int, msg string) *Error {
		return &Error{Op: cl.op, Status: status, Message: msg, err: []error{agenttrust.ErrStoreUnavailable}}
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.timeout+cl.extra)
	defer cancel()
	target := c.base + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, target, rd)
	if err != nil {
		return false, &Error{Op: cl.op, Message: "bad request URL: " + err.Error(), err: []error{agenttrust.ErrInvalidRequest}}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.userAgent != "" {
		req.Header.Set("User-Agent", c.cfg.userAgent)
	}
	cred := cl.bearer
	if cred == "" {
		cred = c.cred
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	if cl.forwardedFor.IsValid() {
		req.Header.Set("X-Forwarded-For", cl.forwardedFor.String())
	}
	if cl.requestID != "" {
		req.Header["X-Request-Id"] = []string{cl.requestID}
	}

	// Every text of the answer put into an error goes through red: a
	// proxy or an echo service may reflect the request, and the error
	// may be shown to a model.
	red := func(text string) string { return redactText(text, cred, c.cred, cl.credential) }
	resp, err := c.cfg.hc.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return false, c.ctxErr(cl, cerr)
		}
		return true, unavailable(0, "authorization server unreachable: "+red(transportText(err)))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return false, c.ctxErr(cl, cerr)
		}
		return true, unavailable(resp.StatusCode, "reading the answer: "+red(transportText(err)))
	}
	if len(data) > maxAnswer {
		return false, unavailable(resp.StatusCode, "answer too large")
	}
	if resp.StatusCode == cl.status || (cl.alsoOK != 0 && resp.StatusCode == cl.alsoOK) {
		if cl.out == nil {
			if cl.status == http.StatusNoContent || len(bytes.TrimSpace(data)) == 0 {
				return false, nil
			}
			return false, unavailable(resp.StatusCode, "unexpected answer body")
		}
		if !isJSON(resp) {
			return false, unavailable(resp.StatusCode, "answer is not JSON: "+snippet(data, red))
		}
		if err := storeapi.DecodeJSON(data, cl.out, true); err != nil {
			return false, unavailable(resp.StatusCode, "malformed answer: "+red(err.Error()))
		}
		if ids := resp.Header.Values("X-Request-Id"); cl.echoID && (len(ids) != 1 || ids[0] != cl.requestID) {
			return false, unavailable(resp.StatusCode, fmt.Sprintf("malformed answer: the answer to request %q, not %q", answerRequestID(resp.Header, red), cl.requestID))
		}
		if resp.StatusCode != cl.status {
			return false, errAlsoOK
		}
		return false, nil
	}
	status := resp.StatusCode
	retry = status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
	var eb wire.ErrorBody
	if !isJSON(resp) || storeapi.DecodeJSON(data, &eb, true) != nil || eb.Error.Code == "" {
		// Not the server's error form: a proxy, a load balancer, a
		// server of something else.
		if status >= 200 && status < 400 || status >= 500 {
			e := unavailable(status, "unexpected answer: "+snippet(data, red))
			e.RequestID = answerRequestID(resp.Header, red)
			return retry, e
		}
		return retry, &Error{Op: cl.op, Status: status, Message: http.StatusText(status) + ": " + snippet(data, red), RequestID: answerRequestID(resp.Header, red), err: sentinels(status, "", c.notFound(cl))}
	}
	return retry, &Error{Op: cl.op, Status: status, Code: red(eb.Error.Code), Message: red(eb.Error.Message), RequestID: answerRequestID(resp.Header, red), err: sentinels(status, eb.Error.Code, c.notFound(cl))}
}

func (c *Client) notFound(cl *call) error {
	if cl.notFound != nil {
		return cl.notFound
	}
	return agenttrust.ErrNotFound
}

func isJSON(resp *http.Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// transportText returns the text of a transport error, which may echo
// the request (a URL, a header dump): it goes through redactText.
func transportText(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out: " + err.Error()
	}
	return err.Error()
}

// redactText returns text taken from an answer or a transport error
// without the credentials the request carried (sent, each when set) and
// without anything shaped like an agenttrust credential, as the audit
// trail redacts attributes: whatever is between the client and the
// server may reflect the request, and an error may be shown to a model.
func redactText(text string, sent ...string) string {
	for _, s := range sent {
		if s != "" {
			text = strings.ReplaceAll(text, s, redact.Mark)
		}
	}
	return redact.Credentials(text)
}

// snippet returns the start of an unexpected answer for an error message,
// redacted with red before it is cut, so that no credential's start is
// left where the cut falls.
func snippet(b []byte, red func(string) string) string {
	const n = 120
	s := red(strings.ToValidUTF8(string(b[:min(len(b), n+agenttrust.MaxCredentialSize)]), "\uFFFD"))
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "..."
	}
	return fmt.Sprintf("%q", strings.TrimSpace(s))
}

// pathEscape escapes one path segment.
func pathEscape(s string) string { return url.PathEscape(s) }
