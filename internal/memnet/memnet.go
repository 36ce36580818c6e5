// Package memnet is an in-process network for tests: a net.Listener whose
// connections are net.Pipe pairs. An HTTP server and its clients on it
// run inside a testing/synctest bubble, where a goroutine blocked on a
// real socket would keep the bubble's fake clock from moving.
//
// Make the Listener inside the bubble that uses it: its channels, and so
// every connection, belong to that bubble.
package memnet

import (
	"context"
	"net"
	"net/netip"
	"sync"
)

// Listener accepts the connections its Dial methods make. It is safe for
// concurrent use; its zero value is not usable: make one with Listen.
type Listener struct {
	addr  netip.AddrPort
	conns chan net.Conn
	done  chan struct{}
	close sync.Once

	mu    sync.Mutex
	dials uint32 // connections made so far, for client ports
}

// Listen returns a Listener that claims addr ("127.0.0.1:80") as its own
// address. The clients it accepts appear to come from addr's IP, each
// from its own port, so a server that reads RemoteAddr sees a loopback
// caller as it would over TCP.
func Listen(addr string) (*Listener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	return &Listener{addr: ap, conns: make(chan net.Conn), done: make(chan struct{})}, nil
}

// Accept waits for the next Dial and returns the server's end.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and later dials; connections already made stay up.
func (l *Listener) Close() error {
	l.close.Do(func() { close(l.done) })
	return nil
}

// Addr returns the address given to Listen.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// DialContext connects to the listener whatever the address, and so fits
// http.Transport.DialContext.
func (l *Listener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	l.mu.Lock()
	l.dials++
	port := uint16(1024 + l.dials%64000)
	l.mu.Unlock()
	client := net.TCPAddrFromAddrPort(netip.AddrPortFrom(l.addr.Addr(), port))
	s, c := net.Pipe()
	var err error
	select {
	case l.conns <- &conn{Conn: s, local: l.Addr(), remote: client}:
		return &conn{Conn: c, local: client, remote: l.Addr()}, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-l.done:
		err = net.ErrClosed
	}
	s.Close()
	c.Close()
	return nil, &net.OpError{Op: "dial", Net: "memnet", Addr: l.Addr(), Err: err}
}

// conn is one end of a pipe with TCP-like addresses.
type conn struct {
	net.Conn
	local, remote net.Addr
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }
