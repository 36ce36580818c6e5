package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/internal/fileowner"
	"github.com/agenttrust/agenttrust/internal/plainhttp"
	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/remote"
)

// defaultServer is where the admin commands look for the server: where
// "agenttrust serve" listens by default.
const defaultServer = "http://127.0.0.1:8480"

// conn holds the flags of a command that talks to the server.
type conn struct {
	f        *flags
	server   string
	key      string
	keyFile  string
	timeout  time.Duration
	retries  int
	insecure bool
	caFile   string
}

// connFlags defines the connection flags on f.
func connFlags(f *flags) *conn {
	c := &conn{f: f}
	f.StringVar(&c.server, "server", defaultServer, "`URL` of the agenttrust server")
	f.StringVar(&c.key, "key", "", "the `CREDENTIAL` (API key or token) to authenticate with; prefer the environment or --key-file, as other users can see a command line [env AGENTTRUST_KEY]")
	f.StringVar(&c.keyFile, "key-file", "", "read the credential from `FILE`, your own and only yours to read (mode 0600) [env AGENTTRUST_KEY_FILE]")
	f.DurationVar(&c.timeout, "timeout", remote.DefaultTimeout, "bound on each HTTP attempt")
	f.IntVar(&c.retries, "retries", 2, "retries of calls that are safe to repeat, after a transport failure or a 502, 503 or 504")
	f.BoolVar(&c.insecure, "insecure-http", false, "allow plain http:// to a host other than loopback: the credential crosses the network unencrypted")
	f.StringVar(&c.caFile, "ca-file", "", "PEM `FILE` of the certificate authorities to trust for an https:// server, instead of the system's")
	f.envVar("server", "timeout", "retries", "insecure-http", "ca-file")
	return c
}

// credential returns the credential to use: --key, else --key-file, else
// AGENTTRUST_KEY or AGENTTRUST_KEY_FILE; a flag on the command line wins
// over the environment. Both flags, or (without a flag) both variables,
// are refused: a script that sets AGENTTRUST_KEY_FILE to act as an agent
// from a shell that exports an admin's AGENTTRUST_KEY must not run as the
// admin.
func (c *conn) credential(getenv func(string) string) (string, error) {
	keySet, fileSet := c.f.isSet("key"), c.f.isSet("key-file")
	switch {
	case keySet && fileSet:
		return "", usagef("give --key or --key-file, not both")
	case keySet:
		return c.checkCred(c.key, "--key")
	case fileSet:
		return c.readKeyFile(c.keyFile)
	case getenv("AGENTTRUST_KEY") != "" && getenv("AGENTTRUST_KEY_FILE") != "":
		return "", usagef("both AGENTTRUST_KEY and AGENTTRUST_KEY_FILE are set: unset one, or give --key-file")
	case getenv("AGENTTRUST_KEY") != "":
		return c.checkCred(getenv("AGENTTRUST_KEY"), "AGENTTRUST_KEY")
	case getenv("AGENTTRUST_KEY_FILE") != "":
		return c.readKeyFile(getenv("AGENTTRUST_KEY_FILE"))
	}
	return "", usagef("no credential: set AGENTTRUST_KEY, --key-file or --key")
}

func (c *conn) checkCred(cred, from string) (string, error) {
	cred = strings.TrimSpace(cred)
	if cred == "" {
		return "", usagef("%s is empty", from)
	}
	return cred, nil
}

// readKeyFile reads the credential from path. Like serve's secrets file,
// a file its group or others may read is refused: everyone on the host
// could copy the key.
func (c *conn) readKeyFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("key file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("key file %s has mode %04o and may be read by its group or others; make it 0600 (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	// Its owner reads it whatever its mode: a key written into a file
	// another user made first is that user's too.
	if uid, other := fileowner.Another(fi); other {
		return "", fmt.Errorf("key file %s is owned by another user (uid %d), who may read it; write the key to a new file of your own", path, uid)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read key file: %w", err)
	}
	return c.checkCred(string(b), "key file "+path)
}

// open checks that the command got n arguments (named by names in the
// usage error) and returns a client for the server: the start of every
// admin command.
func (c *conn) open(e *env, args []string, n int, names string) (*remote.Client, error) {
	if err := wantArgs(args, n, names); err != nil {
		return nil, err
	}
	for _, a := range args {
		if err := notCredential(a); err != nil {
			return nil, err
		}
	}
	return c.client(e)
}

// notCredential refuses an id argument that holds an agenttrust API key,
// token or JWT, as the server's revoke does, but before anything is
// asked: sent, it would sit in a request's URL, which proxies log, and
// revoke would print it back. The error does not quote it.
func notCredential(id string) error {
	if redact.MayHold(id) && redact.Credentials(id) != id {
		return usagef("the id holds a credential, not an id: give the credential's key id (key_...), token id (tok_...) or agent")
	}
	return nil
}

// client returns a client of the server, authenticated with the
// credential.
func (c *conn) client(e *env) (*remote.Client, error) {
	cred, err := c.credential(e.getenv)
	if err != nil {
		return nil, err
	}
	if c.timeout <= 0 {
		return nil, usagef("--timeout must be positive")
	}
	if c.retries < 0 {
		return nil, usagef("--retries must not be negative")
	}
	if err := checkServerURL(c.server, c.insecure); err != nil {
		return nil, err
	}
	opts := []remote.Option{
		remote.WithTimeout(c.timeout),
		remote.WithRetries(c.retries),
		remote.WithUserAgent("agenttrust-cli"),
	}
	if c.insecure {
		opts = append(opts, remote.WithInsecureHTTP())
	}
	if c.caFile != "" {
		hc, err := c.httpClient()
		if err != nil {
			return nil, err
		}
		opts = append(opts, remote.WithHTTPClient(hc))
	}
	rc, err := remote.New(c.server, cred, opts...)
	if err != nil {
		// The error names the URL, never the credential.
		return nil, usageErrorFrom(err)
	}
	return rc, nil
}

// usageErrorFrom turns a configuration error (a bad URL) into a usage
// error, in the words of the command line: without the library's own
// "agenttrust: " prefix (the command prints one) and naming flags, not
// the Go options behind them.
func usageErrorFrom(err error) error {
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	msg := strings.TrimPrefix(err.Error(), "agenttrust: ")
	msg = strings.ReplaceAll(msg, "WithInsecureHTTP", "--insecure-http")
	return &usageError{msg}
}

// checkServerURL checks --server before the client is made, so that a
// mistake gets a message about the flag rather than a URL parser's.
func checkServerURL(raw string, insecure bool) error {
	const want = "want a URL such as " + defaultServer + " or https://agenttrust.example.com"
	shown := raw
	if strings.Contains(raw, "@") {
		shown = "(a URL with user information)" // it may hold a password
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return usagef("--server %q has no scheme: %s", shown, want)
	}
	if scheme != "http" && scheme != "https" {
		return usagef("--server %q: the scheme must be http or https; %s", shown, want)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || rest == "" {
		return usagef("--server %q is not a valid URL: %s", shown, want)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// Shown without them: a user, a query or a fragment may hold a
		// token (?access_token=...), and stderr is often a log.
		bare := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
		return usagef("--server %q (shown without its user, query and fragment): give scheme://host[:port][/path], without user, query or fragment", bare.String())
	}
	if scheme == "http" && !insecure && !plainhttp.Host(u.Hostname()) {
		return usagef("--server %s: plain http to %s would send the credential unencrypted: use https, or give --insecure-http", u.Redacted(), u.Hostname())
	}
	return nil
}

// httpClient returns a new HTTP client for the server: with --ca-file,
// one that trusts only the certificate authorities in that PEM file, as
// curl's --cacert does.
func (c *conn) httpClient() (*http.Client, error) {
	if c.caFile == "" {
		return &http.Client{}, nil
	}
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usagef("CA file %s holds no PEM certificate", c.caFile)
	}
	t := new(http.Transport)
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	}
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	return &http.Client{Transport: t}, nil
}
