package remote_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/remote"
)

// TestAttackPlainHTTPToLocalhostThroughClientProxy: New lets plain http
// carry the key to localhost because it does not leave this machine, but
// an HTTP client given with WithHTTPClient whose transport's Proxy is
// http.ProxyURL (a corporate proxy set for every request; unlike the
// environment's, it has no loopback bypass) sends every request to that
// proxy across the network, the key in clear text. Plain http is to
// this machine only when whatever the request is handed to is on it too.
func TestAttackPlainHTTPToLocalhostThroughClientProxy(t *testing.T) {
	cases := []struct {
		name, base, proxy string
		insecure, refused bool
	}{
		{"localhost through a proxy on the network", "http://localhost:9", "http://proxy.example:3128", false, true},
		{"127.0.0.1 through an https proxy on the network", "http://127.0.0.1:9", "https://10.1.2.3:3128", false, true},
		{"control: through a proxy on this machine", "http://localhost:9", "http://127.0.0.1:3128", false, false},
		{"control: no proxy", "http://127.0.0.1:9", "", false, false},
		{"control: insecure http allowed", "http://localhost:9", "http://proxy.example:3128", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var dialed []string
			tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				mu.Lock()
				dialed = append(dialed, addr)
				mu.Unlock()
				return nil, errors.New("test: no network")
			}}
			defer tr.CloseIdleConnections()
			if tc.proxy != "" {
				u, err := url.Parse(tc.proxy)
				if err != nil {
					t.Fatal(err)
				}
				tr.Proxy = http.ProxyURL(u)
			}
			opts := []remote.Option{remote.WithHTTPClient(&http.Client{Transport: tr}), remote.WithRetries(0)}
			if tc.insecure {
				opts = append(opts, remote.WithInsecureHTTP())
			}
			c, err := remote.New(tc.base, agentKey, opts...)
			if err == nil {
				defer c.Close()
				d, cerr := c.Check(t.Context(), agenttrust.Request{Tool: "docs.read"})
				if d.Effect == agenttrust.Allow || cerr == nil {
					t.Fatalf("Check: %v, %v from no server", d.Effect, cerr)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.refused {
				if !errors.Is(err, agenttrust.ErrInvalidConfig) {
					t.Errorf("New: %v, want ErrInvalidConfig", err)
				}
				if len(dialed) != 0 {
					t.Errorf("dialed %v: the key went over plain http through a proxy off this machine", dialed)
				}
				return
			}
			if err != nil || len(dialed) == 0 {
				t.Errorf("New: %v, dialed %v: plain http on this machine was refused", err, dialed)
			}
		})
	}
}
