package faultproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/faultproxy"
)

// wait bounds every blocking step of a test, so that a broken proxy fails
// the test rather than hanging it.
const wait = 5 * time.Second

// echoServer starts a TCP server that echoes each line back, and returns
// its address.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			})
		}
	})
	return ln.Addr().String()
}

func newProxy(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

type client struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, p *faultproxy.Proxy) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), wait)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{Conn: c, r: bufio.NewReader(c)}
}

// roundTrip sends a line and reads the echo, within timeout.
func (c *client) roundTrip(line string, timeout time.Duration) (string, error) {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return got[:len(got)-1], nil
}

// dialRoundTrip dials the proxy and makes one round trip; the dial itself
// may fail when the proxy resets the connection at once.
func dialRoundTrip(p *faultproxy.Proxy, line string) (string, error) {
	c, err := net.DialTimeout("tcp", p.Addr(), wait)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return (&client{Conn: c, r: bufio.NewReader(c)}).roundTrip(line, wait)
}

func mustEcho(t *testing.T, c *client, line string) {
	t.Helper()
	got, err := c.roundTrip(line, wait)
	if err != nil || got != line {
		t.Fatalf("echo %q = %q, %v", line, got, err)
	}
}

func TestForwards(t *testing.T) {
	p := newProxy(t)
	a, b := dial(t, p), dial(t, p)
	mustEcho(t, a, "hello")
	mustEcho(t, b, "world")
	mustEcho(t, a, "again")
	if n := p.Conns(); n != 2 {
		t.Errorf("Conns = %d, want 2", n)
	}
	if fwd, refused := p.Accepted(); fwd != 2 || refused != 0 {
		t.Errorf("Accepted = %d, %d; want 2, 0", fwd, refused)
	}
}

func TestLargeTransfer(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	payload := make([]byte, 1<<20)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	payload[len(payload)-1] = '\n'
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		errc <- err
	}()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	got, err := c.r.ReadString('\n')
	if err != nil || got != string(payload) {
		t.Fatalf("echo of 1 MiB: %d bytes, %v", len(got), err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestCutResetsAndRefuses(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	mustEcho(t, c, "before")

	p.Cut()
	if _, err := c.roundTrip("during", wait); err == nil {
		t.Fatal("round trip on a cut connection succeeded")
	} else if isTimeout(err) {
		t.Fatalf("round trip on a cut connection timed out (%v), want it to fail at once", err)
	}
	if n := p.Conns(); n != 0 {
		t.Errorf("Conns after Cut = %d, want 0", n)
	}
	// A new connection is accepted by the kernel, then reset.
	if n, err := dialRoundTrip(p, "refused"); err == nil {
		t.Fatalf("round trip on a new connection while cut succeeded: %q", n)
	} else if isTimeout(err) {
		t.Fatalf("new connection while cut timed out (%v), want it reset at once", err)
	}
	if _, refused := p.Accepted(); refused == 0 {
		t.Error("Accepted reports no refused connection")
	}

	p.Restore()
	mustEcho(t, dial(t, p), "after")
	if _, err := c.roundTrip("old", wait); err == nil {
		t.Error("a connection reset by Cut works again after Restore")
	}
}

func TestStall(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	mustEcho(t, c, "before")

	p.Stall()
	if _, err := c.roundTrip("stalled", 100*time.Millisecond); !isTimeout(err) {
		t.Fatalf("round trip while stalled: error %v, want a timeout", err)
	}
	// A new connection is accepted but nothing flows on it either.
	fresh := dial(t, p)
	if _, err := fresh.roundTrip("new", 100*time.Millisecond); !isTimeout(err) {
		t.Fatalf("new connection while stalled: error %v, want a timeout", err)
	}

	p.Restore()
	// The bytes held during the stall arrive, in order.
	_ = c.SetDeadline(time.Now().Add(wait))
	if got, err := c.r.ReadString('\n'); err != nil || got != "stalled\n" {
		t.Fatalf("after Restore: %q, %v; want the stalled line", got, err)
	}
	mustEcho(t, c, "after")
	_ = fresh.SetDeadline(time.Now().Add(wait))
	if got, err := fresh.r.ReadString('\n'); err != nil || got != "new\n" {
		t.Fatalf("new connection after Restore: %q, %v", got, err)
	}
}

func TestDelay(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	mustEcho(t, c, "warm")

	const d = 50 * time.Millisecond
	p.Delay(d)
	start := time.Now()
	mustEcho(t, c, "slow")
	// One chunk each way: at least twice the delay.
	if took := time.Since(start); took < 2*d {
		t.Errorf("round trip with a %v delay took %v, want at least %v", d, took, 2*d)
	}
	if _, err := c.roundTrip("slower", d/2); !isTimeout(err) {
		t.Errorf("round trip with a deadline below the delay: error %v, want a timeout", err)
	}

	p.Restore()
	_ = c.SetDeadline(time.Now().Add(wait))
	if got, err := c.r.ReadString('\n'); err != nil || got != "slower\n" {
		t.Fatalf("after Restore: %q, %v", got, err)
	}
	start = time.Now()
	mustEcho(t, c, "fast")
	if took := time.Since(start); took >= d {
		t.Errorf("round trip after Restore took %v, want less than the removed delay %v", took, d)
	}
}

func TestCutWhileStalled(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	mustEcho(t, c, "before")
	p.Stall()
	if _, err := c.roundTrip("held", 50*time.Millisecond); !isTimeout(err) {
		t.Fatalf("stalled round trip: %v", err)
	}
	p.Cut()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.r.ReadString('\n'); err == nil || isTimeout(err) {
		t.Fatalf("read on a stalled connection after Cut: %v, want it reset", err)
	}
	p.Restore()
	mustEcho(t, dial(t, p), "after")
}

func TestHalfClose(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	if _, err := io.WriteString(c, "last words\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(wait))
	got, err := io.ReadAll(c.r)
	if err != nil || string(got) != "last words\n" {
		t.Fatalf("reply after a half close: %q, %v", got, err)
	}
}

func TestClose(t *testing.T) {
	p, err := faultproxy.New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	mustEcho(t, c, "before")
	p.Stall() // goroutines blocked in the gate must end too
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.roundTrip("after", wait); err == nil || isTimeout(err) {
		t.Fatalf("round trip after Close: %v, want the connection closed", err)
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("dial after Close succeeded")
	}
}

func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	p, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := dialRoundTrip(p, "x"); err == nil || isTimeout(err) {
		t.Fatalf("round trip to an unreachable target: %v, want the connection closed", err)
	}
}

func TestNewEmptyTarget(t *testing.T) {
	if _, err := faultproxy.New(""); err == nil {
		t.Fatal("New with an empty target succeeded")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
