package postgres_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/faultproxy"
	"github.com/agenttrust/agenttrust/internal/storefaults"
	"github.com/agenttrust/agenttrust/store/postgres"
)

// The fault tests (internal/storefaults) put a faultproxy between the
// store and the database and break the link: every method must fail with
// ErrUnavailable within the query timeout plus faultMargin, and work
// again, by itself, once the link is restored.
//
// The timeout leaves room for a healthy call on a machine busy with every
// package's tests at once: at 400 ms an audit append on the slightly slowed
// link of the SlowLink case sometimes ran out of it.
const (
	faultTimeout   = time.Second
	faultMargin    = 300 * time.Millisecond
	faultHeartbeat = 200 * time.Millisecond
)

// proxied returns a store on a fresh schema reached through a new proxy.
func proxied(t *testing.T, opts ...postgres.Option) (*postgres.Store, *faultproxy.Proxy) {
	t.Helper()
	raw := testURL(t)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" || strings.Contains(u.Host, ",") {
		t.Skipf("the fault tests need %s as a postgres:// URL with one host:port, not %q", envURL, raw)
	}
	target := u.Host
	if u.Port() == "" {
		target += ":5432"
	}
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.Host = p.Addr()
	schema := freshSchema(t, raw)
	opts = append([]postgres.Option{
		postgres.WithQueryTimeout(faultTimeout),
		postgres.WithHeartbeat(faultHeartbeat),
	}, opts...)
	return open(t, u.String(), schema, opts...), p
}

func TestFaults(t *testing.T) {
	storefaults.Run(t, storefaults.Config{
		Open: func(t *testing.T) (storefaults.Store, *faultproxy.Proxy) {
			return proxied(t)
		},
		Timeout: faultTimeout, Margin: faultMargin, Feed: faultHeartbeat,
		// LISTEN runs on a connection of its own, which sees a cut at once.
		CutNoticed: faultMargin,
	})
}
