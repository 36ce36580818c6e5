package mysql_test

import (
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/agenttrust/agenttrust/internal/faultproxy"
	"github.com/agenttrust/agenttrust/internal/storefaults"
	"github.com/agenttrust/agenttrust/store/mysql"
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
	faultTimeout = time.Second
	faultMargin  = 300 * time.Millisecond
	faultPoll    = 200 * time.Millisecond
)

// proxyDSN returns dsn reached through a new fault proxy, closed when t
// ends.
func proxyDSN(t *testing.T, dsn string) (string, *faultproxy.Proxy) {
	t.Helper()
	cfg, err := driver.ParseDSN(dsn)
	if err != nil || cfg.Net != "tcp" {
		t.Skipf("the fault tests need %s to reach the server over TCP, not %q", envDSN, dsn)
	}
	p, err := faultproxy.New(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cfg.Addr = p.Addr()
	return cfg.FormatDSN(), p
}

// proxied returns a store on a fresh schema reached through a new proxy.
func proxied(t *testing.T, opts ...mysql.Option) (*mysql.Store, *faultproxy.Proxy) {
	t.Helper()
	dsn, p := proxyDSN(t, freshDatabase(t, testDSN(t)))
	opts = append([]mysql.Option{
		mysql.WithQueryTimeout(faultTimeout),
		mysql.WithPollInterval(faultPoll),
	}, opts...)
	return open(t, dsn, opts...), p
}

func TestFaults(t *testing.T) {
	storefaults.Run(t, storefaults.Config{
		Open: func(t *testing.T) (storefaults.Store, *faultproxy.Proxy) {
			return proxied(t)
		},
		Timeout: faultTimeout, Margin: faultMargin, Feed: faultPoll,
		// The feed is polled: a cut shows at the next poll.
		CutNoticed: faultPoll + faultMargin,
	})
}
