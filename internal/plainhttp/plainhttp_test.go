package plainhttp

import (
	"net/http"
	"net/url"
	"testing"
)

func TestHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.9.8.7": true, "::1": true, "::ffff:127.0.0.1": true,
		"LOCALHOST": false, "Localhost": false, "evil.localhost": false, "localhost.": false,
		"10.0.0.1": false, "0.0.0.0": false, "::": false, "": false, "example.com": false,
	} {
		if got := Host(host); got != want {
			t.Errorf("Host(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestLocal(t *testing.T) {
	proxy := func(s string) http.RoundTripper {
		u, _ := url.Parse(s)
		return &http.Transport{Proxy: http.ProxyURL(u)}
	}
	for _, tc := range []struct {
		name, url string
		rt        http.RoundTripper
		want      bool
	}{
		{"default transport", "http://localhost:8080/x", nil, true},
		{"no proxy", "http://127.0.0.1/x", &http.Transport{}, true},
		{"proxy on this machine", "http://localhost/x", proxy("http://127.0.0.1:3128"), true},
		{"proxy elsewhere", "http://localhost/x", proxy("http://proxy.example:3128"), false},
		{"https proxy elsewhere", "http://[::1]:9/x", proxy("https://10.1.2.3:3128"), false},
		{"host elsewhere", "http://example.com/x", nil, false},
	} {
		u, _ := url.Parse(tc.url)
		if got := Local(u, tc.rt); got != tc.want {
			t.Errorf("%s: Local(%s) = %v, want %v", tc.name, tc.url, got, tc.want)
		}
	}
}
