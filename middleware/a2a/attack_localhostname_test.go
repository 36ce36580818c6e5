package a2a_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware/a2a"
)

// TestAttackA2APlainHTTPToLocalhostName: a name under .localhost is not
// this machine to Go's own resolver (the one a CGO_ENABLED=0 binary or a
// container uses): it reads /etc/hosts, then asks the network's DNS
// server, whose answer anyone on the path can forge. A callee whose URL
// (an agent card's, say) is http://researcher.localhost therefore got the
// caller's token in clear text wherever that answer pointed. Only
// "localhost" itself and loopback addresses are this machine.
func TestAttackA2APlainHTTPToLocalhostName(t *testing.T) {
	_, _, tok := newClient(t)
	for _, url := range []string{
		"http://evil.localhost/tasks/1",
		"http://researcher.LOCALHOST:8080/tasks/1",
		"http://a.b.localhost/tasks/1",
	} {
		t.Run(url, func(t *testing.T) {
			sent := false
			tr := &a2a.Transport{Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				sent = true
				return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
			})}
			req, _ := http.NewRequestWithContext(agenttrust.WithCredential(context.Background(), tok), "POST", url, http.NoBody)
			resp, err := tr.RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
			}
			if !errors.Is(err, a2a.ErrInsecureTransport) {
				t.Errorf("error %v, want ErrInsecureTransport", err)
			}
			if sent {
				t.Error("the token was sent over plain http to a name the network resolves")
			}
		})
	}

	// This machine stays reachable over plain http.
	for _, url := range []string{"http://localhost:8080/x", "http://127.0.0.1/x", "http://[::1]:9/x"} {
		tr := &a2a.Transport{Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
		})}
		req, _ := http.NewRequestWithContext(agenttrust.WithCredential(context.Background(), tok), "POST", url, http.NoBody)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Errorf("%s: %v", url, err)
			continue
		}
		resp.Body.Close()
	}
}
