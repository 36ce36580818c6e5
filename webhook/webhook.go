// Package webhook posts each new pending approval to a URL, for people
// to hear of it where they are: a chat (the JSON carries a
// Slack-compatible "text" field), a pager, a ticket queue. Give a
// Notifier's Notify to every Client with agenttrust.WithNotifier
// (agenttrust serve --approval-webhook does).
//
// A check never waits for the receiver: Notify only queues the approval,
// and one goroutine delivers the queue in order. The queue is bounded
// (Config.Queue), and one tenant may hold at most half of it, so that a
// tenant flooding it leaves room for the others; when it is full, or the
// approval's tenant holds its half, the new approval is dropped, counted in
// Stats.Dropped, and Notify returns ErrQueueFull (the Client logs it): a
// slow or failing receiver costs notifications, never checks. A delivery
// that fails for a reason that may pass (a network error, 408, 425, 429,
// 5xx) is retried with exponential backoff, up to Config.MaxAttempts
// tries; any other answer ends it (Stats.Failed). An approval id already
// queued or delivered is not queued again, so the receiver gets each
// pending approval once, unless it answered a delivery with an error it
// had in fact processed; the X-Agenttrust-Delivery header (the approval
// id) lets it drop such a repeat.
//
// # Signature
//
// Each request carries
//
//	X-Agenttrust-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// where the HMAC is keyed with the shared secret and computed over the
// decimal timestamp, a '.', and the raw request body. A receiver
// recomputes it (Verify does), compares in constant time, and refuses a
// timestamp further than a few minutes from its clock, which bounds
// replays.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/entropy"
)

// Header names.
const (
	SignatureHeader = "X-Agenttrust-Signature"
	DeliveryHeader  = "X-Agenttrust-Delivery"
)

// Defaults and bounds of Config.
const (
	DefaultQueue       = 256
	DefaultMaxAttempts = 5
	DefaultBackoff     = time.Second
	MaxBackoff         = time.Minute
	DefaultTimeout     = 10 * time.Second
	MinSecretLen       = 32
	// DefaultTolerance is how far a signature's timestamp may be from the
	// receiver's clock in Verify.
	DefaultTolerance = 5 * time.Minute
	maxSeen          = 4096
)

// Errors.
var (
	ErrConfig    = errors.New("agenttrust/webhook: invalid config")
	ErrQueueFull = errors.New("agenttrust/webhook: queue full; approval notification dropped")
	ErrClosed    = errors.New("agenttrust/webhook: notifier closed")
	ErrSignature = errors.New("agenttrust/webhook: bad signature")
)

// Config configures New. URL and Secret are required.
type Config struct {
	URL string // http or https
	// Secret keys the HMAC of every request: at least MinSecretLen bytes.
	Secret []byte
	// ConsoleURL is the console's external base URL (scheme and host,
	// e.g. https://agenttrust.example:8443); each notification links to
	// the approval there. Empty: no link.
	ConsoleURL string
	// Client sends the requests (default: one with DefaultTimeout). A
	// redirect is not followed unless its CheckRedirect is set: it is an
	// answer like any other 3xx, and the delivery fails. A client without
	// a Timeout gets DefaultTimeout. New uses a copy of it.
	Client *http.Client
	// Queue bounds the approvals waiting for delivery (DefaultQueue);
	// those of one tenant may take at most half of it.
	Queue int
	// MaxAttempts bounds the tries of one delivery (DefaultMaxAttempts);
	// Backoff is the wait before the first retry (DefaultBackoff), doubled
	// for each next one up to MaxBackoff.
	MaxAttempts int
	Backoff     time.Duration
	// Now dates the signature of each delivery (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// String names the receiver by its scheme and host only: a Config holds
// the secret that signs every notification, and a URL whose path, query
// or user a chat's incoming webhook uses as its credential.
func (c Config) String() string { return "webhook.Config(" + receiver(c.URL) + ")" }

// GoString implements fmt.GoStringer as String does.
func (c Config) GoString() string { return c.String() }

// Format prints String under every verb: fmt's verbs that a string does
// not take (%d, %o, %b, ...) would otherwise print the fields.
func (c Config) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// LogValue implements slog.LogValuer as String does.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON marshals String.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// MarshalText implements encoding.TextMarshaler with String, for XML,
// YAML and the other text encoders.
func (c Config) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// receiver is the scheme and host of a webhook URL, nothing of its user,
// path or query.
func receiver(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "invalid URL"
	}
	return u.Scheme + "://" + u.Host
}

// Stats counts what a Notifier did.
type Stats struct {
	Queued    uint64 // approvals accepted by Notify
	Delivered uint64 // deliveries the receiver accepted (2xx)
	Retries   uint64 // tries after a first that failed
	Failed    uint64 // deliveries given up
	Dropped   uint64 // approvals dropped because the queue was full
	Repeated  uint64 // approvals not queued again (already seen)
}

// Notifier delivers pending approvals to a webhook. Build it with New,
// Close it at shutdown.
type Notifier struct {
	cfg   Config
	queue chan agenttrust.Approval
	ctx   context.Context
	stop  context.CancelFunc
	done  chan struct{}

	mu     sync.Mutex
	seen   map[string]struct{}
	order  []string
	held   map[string]int // approvals queued, by tenant
	share  int            // the most one tenant may hold queued
	closed bool
	stats  struct{ queued, delivered, retries, failed, dropped, repeated atomic.Uint64 }
}

// String names the receiver by its scheme and host only, as Config's
// String does.
func (n *Notifier) String() string { return "webhook.Notifier(" + receiver(n.cfg.URL) + ")" }

// GoString implements fmt.GoStringer as String does.
func (n *Notifier) GoString() string { return n.String() }

// Format prints String under every verb.
func (n *Notifier) Format(f fmt.State, _ rune) { io.WriteString(f, n.String()) }

// LogValue implements slog.LogValuer as String does.
func (n *Notifier) LogValue() slog.Value { return slog.StringValue(n.String()) }

// New starts a notifier's delivery goroutine.
func New(cfg Config) (*Notifier, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: webhook URL must be an absolute http or https URL", ErrConfig)
	}
	if len(cfg.Secret) < MinSecretLen || entropy.Zero(cfg.Secret) {
		return nil, fmt.Errorf("%w: secret must be at least %d bytes, not all zero", ErrConfig, MinSecretLen)
	}
	if cfg.ConsoleURL != "" {
		cu, err := url.Parse(cfg.ConsoleURL)
		if err != nil || (cu.Scheme != "http" && cu.Scheme != "https") || cu.Host == "" {
			return nil, fmt.Errorf("%w: console URL must be an absolute http or https URL", ErrConfig)
		}
		cfg.ConsoleURL = strings.TrimRight(cfg.ConsoleURL, "/")
	}
	if cfg.Queue < 0 || cfg.MaxAttempts < 0 || cfg.Backoff < 0 {
		return nil, fmt.Errorf("%w: negative bound", ErrConfig)
	}
	if cfg.Queue == 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.Client.CheckRedirect == nil || cfg.Client.Timeout <= 0 {
		c := *cfg.Client
		if c.CheckRedirect == nil {
			// net/http would follow a redirect to any host with the signed
			// body and headers, and count where it landed as the receiver.
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		}
		if c.Timeout <= 0 {
			// One goroutine delivers: a receiver that never answers
			// would hold it, and every later notification with it.
			c.Timeout = DefaultTimeout
		}
		cfg.Client = &c
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Secret = bytes.Clone(cfg.Secret)
	n := &Notifier{cfg: cfg, queue: make(chan agenttrust.Approval, cfg.Queue), done: make(chan struct{}), seen: map[string]struct{}{},
		held: map[string]int{}, share: max(1, cfg.Queue/2)}
	n.ctx, n.stop = context.WithCancel(context.Background())
	go n.run()
	return n, nil
}

// Notify queues a for delivery and returns at once: ErrQueueFull when
// the queue is full (a is dropped), nil otherwise.
func (n *Notifier) Notify(_ context.Context, a agenttrust.Approval) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if _, ok := n.seen[a.Tenant+"\x00"+a.ID]; ok {
		n.stats.repeated.Add(1)
		return nil
	}
	// One Notifier serves every tenant of a server: a tenant holding half
	// the queue already is refused, so that its flood of approvals leaves
	// room for the others'.
	if n.held[a.Tenant] >= n.share {
		n.stats.dropped.Add(1)
		return ErrQueueFull
	}
	select {
	case n.queue <- a:
	default:
		n.stats.dropped.Add(1)
		return ErrQueueFull
	}
	n.held[a.Tenant]++
	n.stats.queued.Add(1)
	key := a.Tenant + "\x00" + a.ID
	n.seen[key] = struct{}{}
	n.order = append(n.order, key)
	if len(n.order) > maxSeen {
		delete(n.seen, n.order[0])
		n.order = n.order[1:]
	}
	return nil
}

// Close stops accepting approvals and delivers those queued until ctx
// ends; what is left then is counted as dropped.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
		n.stop()
		<-n.done
		return ctx.Err()
	}
}

// Stats returns the notifier's counts.
func (n *Notifier) Stats() Stats {
	return Stats{Queued: n.stats.queued.Load(), Delivered: n.stats.delivered.Load(), Retries: n.stats.retries.Load(),
		Failed: n.stats.failed.Load(), Dropped: n.stats.dropped.Load(), Repeated: n.stats.repeated.Load()}
}

func (n *Notifier) run() {
	defer close(n.done)
	for a := range n.queue {
		n.mu.Lock()
		if n.held[a.Tenant]--; n.held[a.Tenant] <= 0 {
			delete(n.held, a.Tenant)
		}
		n.mu.Unlock()
		if n.ctx.Err() != nil {
			n.stats.dropped.Add(1)
			continue
		}
		n.deliver(a)
	}
}

// Payload is the JSON body of a notification.
type Payload struct {
	Type string `json:"type"` // "approval.pending"
	// Text is a one-line summary in Slack's mrkdwn, with the link.
	Text     string       `json:"text"`
	URL      string       `json:"url,omitempty"`
	Approval ApprovalInfo `json:"approval"`
}

// ApprovalInfo is what a notification tells of the approval. The agent
// chose the tool, resource and attributes: a receiver must treat them as
// untrusted text.
type ApprovalInfo struct {
	ID         string          `json:"id"`
	Tenant     string          `json:"tenant"`
	AgentID    string          `json:"agent_id"`
	OnBehalfOf string          `json:"on_behalf_of,omitempty"`
	SessionID  string          `json:"session_id,omitempty"`
	Tool       string          `json:"tool"`
	Resource   string          `json:"resource,omitempty"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
	Rule       string          `json:"rule"`
	Reason     string          `json:"reason,omitempty"`
	Approvers  []string        `json:"approvers,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	ExpiresAt  time.Time       `json:"expires_at"`
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning
// to (links, mentions), so agent-chosen text stays text.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// NewPayload builds the notification of a, linking to the console at
// consoleURL when it is not empty.
func NewPayload(a agenttrust.Approval, consoleURL string) Payload {
	p := Payload{Type: "approval.pending", Approval: ApprovalInfo{
		ID: a.ID, Tenant: a.Tenant, AgentID: a.AgentID, OnBehalfOf: a.OnBehalfOf, SessionID: a.SessionID,
		Tool: a.Tool, Resource: a.Resource, Attributes: a.Attributes, Rule: a.Rule, Reason: a.Reason,
		Approvers: a.Approvers, CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt,
	}}
	if consoleURL != "" {
		p.URL = strings.TrimRight(consoleURL, "/") + "/ui/approvals#" + url.PathEscape(a.ID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Approval needed: %s asks to run %s", slackEscape.Replace(a.AgentID), slackEscape.Replace(a.Tool))
	if a.Resource != "" {
		// The one text here the agent chooses freely: quoted, so that it
		// cannot pass for the summary's own words.
		fmt.Fprintf(&b, " on %s", slackEscape.Replace(strconv.Quote(a.Resource)))
	}
	if a.OnBehalfOf != "" {
		fmt.Fprintf(&b, " for %s", slackEscape.Replace(a.OnBehalfOf))
	}
	fmt.Fprintf(&b, " (rule %s", slackEscape.Replace(a.Rule))
	if a.Reason != "" {
		fmt.Fprintf(&b, ": %s", slackEscape.Replace(a.Reason))
	}
	fmt.Fprintf(&b, "). Decide by %s", a.ExpiresAt.UTC().Format("15:04 UTC"))
	if p.URL != "" {
		fmt.Fprintf(&b, ": <%s|open in the console>", p.URL)
	}
	b.WriteByte('.')
	p.Text = b.String()
	return p
}

// Sign returns the signature header value of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a signature header value against body: the HMAC, and a
// timestamp within tolerance of now (DefaultTolerance when 0). A secret
// shorter than MinSecretLen, or all zero bytes, verifies nothing.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) < MinSecretLen || entropy.Zero(secret) {
		// A secret that did not load (empty, or a buffer never filled)
		// is one anyone can sign with.
		return fmt.Errorf("%w: the secret is shorter than %d bytes or all zero", ErrSignature, MinSecretLen)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: malformed header", ErrSignature)
	}
	want, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(want, mac(secret, ts, body)) {
		return fmt.Errorf("%w: HMAC does not match", ErrSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s from now", ErrSignature, d.Round(time.Second))
	}
	return nil
}

// deliver posts a's notification, retrying what may pass.
func (n *Notifier) deliver(a agenttrust.Approval) {
	body, err := json.Marshal(NewPayload(a, n.cfg.ConsoleURL))
	if err != nil {
		n.stats.failed.Add(1)
		return
	}
	wait := n.cfg.Backoff
	for attempt := 1; ; attempt++ {
		retry, err := n.post(a.ID, body)
		if err == nil {
			n.stats.delivered.Add(1)
			return
		}
		if !retry || attempt >= n.cfg.MaxAttempts {
			n.stats.failed.Add(1)
			n.cfg.Logger.Warn("agenttrust/webhook: approval notification failed", "approval", a.ID, "tenant", a.Tenant, "attempts", attempt, "err", err)
			return
		}
		n.stats.retries.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.ctx.Done():
			t.Stop()
			n.stats.failed.Add(1)
			return
		}
		wait = min(wait*2, MaxBackoff)
	}
}

// post sends one try; retry says whether a failure may pass.
func (n *Notifier) post(id string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "agenttrust-webhook")
	req.Header.Set(DeliveryHeader, id)
	req.Header.Set(SignatureHeader, Sign(n.cfg.Secret, n.cfg.Now(), body))
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		// net/http's error holds the whole URL, whose path or query a
		// chat's incoming webhook uses as its credential: name the host.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("post to %s: %w", req.URL.Host, ue.Err)
		}
		return true, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 200 && s <= 299:
		return false, nil
	case s == 408 || s == 425 || s == 429 || s >= 500:
		return true, fmt.Errorf("receiver answered %d", s)
	default:
		return false, fmt.Errorf("receiver answered %d", s)
	}
}
