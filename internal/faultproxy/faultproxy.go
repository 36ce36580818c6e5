// Package faultproxy is an in-process TCP proxy for tests that need a
// network fault between a client and a server they do not control, such as
// a database that must keep running: cut every connection, stall the bytes,
// or slow them down, then restore the link.
//
// # Usage
//
//	p, err := faultproxy.New("127.0.0.1:5432")
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { p.Close() })
//	// connect the client to p.Addr() instead of the server
//	p.Cut()     // live connections are reset, new ones refused
//	p.Restore() // new connections are forwarded again
//
// # Faults
//
// Cut resets every live connection and refuses (accepts, then resets) new
// ones. Stall keeps connections open and accepts new ones but forwards no
// byte in either direction. Delay holds each chunk of bytes for a while
// before forwarding it. Restore ends all three. A Proxy is safe for
// concurrent use; its zero value is not usable, create one with New.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards TCP connections from Addr to a target address, with
// faults switched on and off by its methods.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup // accept loop and every pipe goroutine

	mu      sync.Mutex
	cut     bool
	stalled bool
	delay   time.Duration
	closed  bool
	wake    chan struct{} // closed and replaced whenever the faults change
	links   map[*link]struct{}
	total   int // connections accepted and forwarded
	refused int // connections accepted while cut
}

// New starts a proxy listening on 127.0.0.1 at a free port, forwarding to
// target (host:port). Close stops it.
func New(target string) (*Proxy, error) {
	if target == "" {
		return nil, errors.New("faultproxy: empty target address")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		ln:     ln,
		target: target,
		wake:   make(chan struct{}),
		links:  map[*link]struct{}{},
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the address clients connect to, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut resets every live connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	links := p.takeLinks()
	p.changed()
	p.mu.Unlock()
	for _, l := range links {
		l.reset()
	}
}

// Stall stops forwarding bytes, in both directions and on new connections
// too, until Restore. Connections stay open.
func (p *Proxy) Stall() {
	p.mu.Lock()
	p.stalled = true
	p.changed()
	p.mu.Unlock()
}

// Delay holds every chunk of bytes read from either side for d before
// forwarding it, until Restore. A zero d removes the delay.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = max(d, 0)
	p.changed()
	p.mu.Unlock()
}

// Restore ends every fault: new connections are forwarded, stalled bytes
// flow again and the delay is removed. Connections reset by Cut stay
// closed.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut, p.stalled, p.delay = false, false, 0
	p.changed()
	p.mu.Unlock()
}

// Conns returns the number of live connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Accepted returns how many connections were forwarded and how many were
// refused because the link was cut, since New.
func (p *Proxy) Accepted() (forwarded, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, p.refused
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines to end. Later calls do nothing and return nil.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	links := p.takeLinks()
	p.changed()
	p.mu.Unlock()

	err := p.ln.Close()
	for _, l := range links {
		l.reset()
	}
	p.wg.Wait()
	return err
}

// changed wakes every goroutine waiting on the faults. p.mu is held.
func (p *Proxy) changed() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// takeLinks empties the set of live links and returns them. p.mu is held.
func (p *Proxy) takeLinks() []*link {
	out := make([]*link, 0, len(p.links))
	for l := range p.links {
		out = append(out, l)
	}
	clear(p.links)
	return out
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		p.mu.Lock()
		if p.closed || p.cut {
			p.refused++
			p.mu.Unlock()
			resetConn(c)
			continue
		}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve dials the target for client c and pipes bytes both ways.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		resetConn(client)
		return
	}
	l := &link{client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed || p.cut {
		p.refused++
		p.mu.Unlock()
		l.reset()
		return
	}
	p.links[l] = struct{}{}
	p.total++
	p.mu.Unlock()

	p.wg.Add(2)
	go p.pipe(l, server, client)
	go p.pipe(l, client, server)
}

// pipe copies src to dst through the gate. An orderly end of src (EOF) is
// passed on as a half close, so that a peer that shuts down its writes
// still gets the rest of the reply; the link is closed when both
// directions have ended that way, or at once on any failure.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	if p.copy(l, dst, src) {
		if tc, ok := dst.(*net.TCPConn); ok && tc.CloseWrite() == nil && !l.halfClosed() {
			return
		}
	}
	p.drop(l)
}

// copy forwards chunks until src ends or a side fails, and reports
// whether src ended with EOF.
func (p *Proxy) copy(l *link, dst, src net.Conn) bool {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate(l) {
				return false
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return false
			}
		}
		if err != nil {
			return errors.Is(err, io.EOF)
		}
	}
}

// gate blocks while the proxy is stalled and for the delay, and reports
// whether the chunk may be forwarded (false once the link is closed).
func (p *Proxy) gate(l *link) bool {
	for {
		p.mu.Lock()
		stalled, delay, wake := p.stalled, p.delay, p.wake
		p.mu.Unlock()
		if stalled {
			select {
			case <-wake:
				continue
			case <-l.done:
				return false
			}
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return false
			}
		}
		select {
		case <-l.done:
			return false
		default:
			return true
		}
	}
}

// drop closes l and forgets it.
func (p *Proxy) drop(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
	l.reset()
}

// link is one proxied connection: the client side accepted by the proxy
// and the server side it dialled.
type link struct {
	client, server net.Conn
	done           chan struct{} // closed by reset
	once           sync.Once
	mu             sync.Mutex
	halves         int // directions that saw EOF
}

// halfClosed records that one direction ended with EOF and reports
// whether both have.
func (l *link) halfClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.halves++
	return l.halves == 2
}

// reset closes both sides abruptly (TCP RST), once.
func (l *link) reset() {
	l.once.Do(func() {
		close(l.done)
		resetConn(l.client)
		resetConn(l.server)
	})
}

// resetConn closes c with a TCP reset rather than an orderly shutdown, as
// a broken network or a killed peer would.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
