package a2a_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware/a2a"
)

// TestAttackA2APlainHTTPToLocalhostThroughBaseProxy: plain http to
// localhost is allowed because it does not leave this machine, but a
// Base *http.Transport whose Proxy is http.ProxyURL (a corporate proxy
// set for every request; unlike the environment's, it has no loopback
// bypass) sends a request to localhost to that proxy across the
// network, the token in clear text. Plain http is to this machine only
// when whatever the request is handed to is on it too.
func TestAttackA2APlainHTTPToLocalhostThroughBaseProxy(t *testing.T) {
	_, _, tok := newClient(t)
	cases := []struct {
		name, proxy string
		refused     bool
	}{
		{"a proxy on the network", "http://proxy.example:3128", true},
		{"an https proxy on the network", "https://10.1.2.3:3128", true},
		{"control: a proxy on this machine", "http://127.0.0.1:3128", false},
		{"control: no proxy", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var dialed []string
			base := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				mu.Lock()
				dialed = append(dialed, addr)
				mu.Unlock()
				return nil, errors.New("test: no network")
			}}
			if tc.proxy != "" {
				u, err := url.Parse(tc.proxy)
				if err != nil {
					t.Fatal(err)
				}
				base.Proxy = http.ProxyURL(u)
			}
			defer base.CloseIdleConnections()
			tr := &a2a.Transport{Base: base}
			req, _ := http.NewRequestWithContext(agenttrust.WithCredential(context.Background(), tok), "POST", "http://localhost:8080/tasks/1", http.NoBody)
			resp, err := tr.RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.refused {
				if !errors.Is(err, a2a.ErrInsecureTransport) {
					t.Errorf("error %v, want ErrInsecureTransport", err)
				}
				if len(dialed) != 0 {
					t.Errorf("dialed %v: the token went over plain http through a proxy off this machine", dialed)
				}
				return
			}
			if errors.Is(err, a2a.ErrInsecureTransport) || len(dialed) == 0 {
				t.Errorf("error %v, dialed %v: plain http on this machine was refused", err, dialed)
			}
		})
	}
}
