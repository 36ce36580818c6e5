// Package testkit holds the fixtures the tests of every module share: a
// clock the tests move by hand, a deterministic random source, fixed
// token keys, and a client over a memory store. It is for tests only;
// nothing else imports it.
package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// T0 is where every Clock made by NewClock starts.
var T0 = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)

// Clock is a clock tests move by hand: nothing that reads it sleeps on
// the real one. Safe for concurrent use; the zero Clock reads the Unix
// epoch.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a Clock at T0.
func NewClock() *Clock {
	c := &Clock{}
	c.ns.Store(T0.UnixNano())
	return c
}

// Now returns the clock's time, in UTC.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock by d (back, when d < 0).
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Random is a deterministic io.Reader, safe for concurrent use.
type Random struct {
	mu  sync.Mutex
	src *rand.ChaCha8
}

// NewRandom returns a Random with a fixed seed: every run reads the same
// bytes.
func NewRandom() *Random { return &Random{src: rand.NewChaCha8([32]byte{1, 2, 3})} }

func (r *Random) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.src.Read(p)
}

// MasterKey is the fixed token master key of the tests.
func MasterKey() agenttrust.SecretKey {
	return agenttrust.SecretKey{ID: "mk1", Secret: []byte("0123456789abcdef0123456789abcdef")}
}

// SigningKey is the fixed JWT signing key (an Ed25519 seed) of the tests.
func SigningKey() agenttrust.SecretKey {
	return agenttrust.SecretKey{ID: "sk1", Secret: bytes.Repeat([]byte("s"), 32)}
}

// Keys is an option giving a client MasterKey and SigningKey, so clients
// of one test verify each other's tokens.
func Keys() agenttrust.Option {
	return agenttrust.WithTokens(agenttrust.TokenConfig{
		MasterKeys: []agenttrust.SecretKey{MasterKey()}, SigningKeys: []agenttrust.SecretKey{SigningKey()},
	})
}

// Policy parses a policy document ("yaml" or "json"), failing tb if it
// does not.
func Policy(tb testing.TB, doc, format string) *agenttrust.Policy {
	tb.Helper()
	p, err := agenttrust.ParsePolicy([]byte(doc), format)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// Client returns a client over a fresh memory store, closed when the test
// ends, with the test keys, a deterministic random source and opts.
func Client(tb testing.TB, opts ...agenttrust.Option) *agenttrust.Client {
	tb.Helper()
	base := []agenttrust.Option{Keys(), agenttrust.WithRandom(NewRandom())}
	c, err := agenttrust.New(memory.New(), append(base, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// JSONRequest is a request to url with cred as the bearer (none when
// empty) and body: nil for none, a string sent as is, anything else
// marshalled to JSON.
func JSONRequest(tb testing.TB, method, url, cred string, body any) *http.Request {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// Send does req with c and returns the response with its whole body
// read (and closed).
func Send(tb testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	tb.Helper()
	res, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return res, b
}

// ChildBehindProxy runs the test named test again in a child process of
// the test binary, with childEnv set to "1" and HTTP_PROXY pointing at a
// proxy that answers each request with status. net/http reads the proxy
// variables once per process, hence the child. It returns the host and
// Authorization header of each request the proxy received, and the
// child's failure with its output.
func ChildBehindProxy(t *testing.T, test, childEnv string, status int) (seen []string, err error) {
	t.Helper()
	var mu sync.Mutex
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Host+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(status)
	}))
	defer proxy.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	if out, cerr := cmd.CombinedOutput(); cerr != nil {
		err = fmt.Errorf("child: %v\n%s", cerr, out)
	}
	proxy.Close()
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(seen), err
}
