package memnet_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust/internal/memnet"
)

// An HTTP server on a Listener answers in a bubble, sees a loopback
// caller, and a handler's timer runs on the bubble's clock.
func TestHTTPInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := memnet.Listen("127.0.0.1:80")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Hour)
			io.WriteString(w, r.RemoteAddr)
		})}
		go srv.Serve(l)
		tr := &http.Transport{DialContext: l.DialContext}
		defer tr.CloseIdleConnections()
		defer srv.Close()

		start := time.Now()
		res, err := (&http.Client{Transport: tr}).Get("http://" + l.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != time.Hour {
			t.Errorf("answered after %v of bubble time, want 1h", got)
		}
		ap, err := net.ResolveTCPAddr("tcp", string(body))
		if err != nil || !ap.IP.IsLoopback() || ap.Port == 0 {
			t.Errorf("server saw RemoteAddr %q", body)
		}
	})
}

// Close ends Accept and refuses later dials; a dial that nobody accepts
// ends with its context.
func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := memnet.Listen("127.0.0.1:80")
		if err != nil {
			t.Fatal(err)
		}
		accepted := make(chan error, 1)
		go func() {
			_, err := l.Accept()
			accepted <- err
		}()
		synctest.Wait()
		l.Close()
		if err := <-accepted; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
		if _, err := l.DialContext(context.Background(), "tcp", "x:1"); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Dial after Close: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		l2, err := memnet.Listen("127.0.0.1:80")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l2.DialContext(ctx, "tcp", "x:1"); !errors.Is(err, context.Canceled) {
			t.Errorf("Dial with an ended context and no Accept: %v", err)
		}
		if _, err := memnet.Listen("localhost"); err == nil {
			t.Error("Listen accepted an address without a port")
		}
	})
}
