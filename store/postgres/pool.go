package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pool is a small connection pool over pgx.Conn: a bounded number of
// connections, idle ones reused most recent first, broken ones dropped.
// (pgxpool would do, but needs a module, puddle, that this module does not
// require.)
//
// A connection that sat idle longer than idlePing is pinged before it is
// handed out, and a connection that broke makes the pool drop every idle
// one, since they most likely share its fate: after a network fault the
// store reconnects by itself rather than failing once per stale
// connection.
type pool struct {
	cfg   *pgx.ConnConfig
	slots chan struct{} // one token per connection in use or being dialled
	done  chan struct{} // closed by close

	mu     sync.Mutex
	idle   []idleConn // most recently used last
	closed bool
}

type idleConn struct {
	c     *pgx.Conn
	since time.Time
}

// idlePing is how long a connection may sit idle before it is checked
// with a round trip when acquired.
const idlePing = time.Second

// closeTimeout bounds the goodbye message sent when closing a connection.
const closeTimeout = time.Second

var errPoolClosed = errors.New("connection pool is closed")

func newPool(cfg *pgx.ConnConfig, size int) *pool {
	return &pool{cfg: cfg, slots: make(chan struct{}, size), done: make(chan struct{})}
}

// acquire returns a connection for the caller's exclusive use until
// release, and whether it was reused (rather than dialled for this call).
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, bool, error) {
	select {
	case p.slots <- struct{}{}:
	case <-p.done:
		return nil, false, errPoolClosed
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	select {
	case <-p.done:
		<-p.slots
		return nil, false, errPoolClosed
	default:
	}
	for {
		c, since, ok := p.popIdle()
		if !ok {
			break
		}
		if time.Since(since) > idlePing {
			if err := c.Ping(ctx); err != nil {
				closeConn(c)
				if ctx.Err() != nil {
					<-p.slots
					return nil, false, err
				}
				continue
			}
		}
		return c, true, nil
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	return c, false, nil
}

// release gives c back. A connection that is closed, inside a transaction
// or marked broken is closed and forgotten.
func (p *pool) release(c *pgx.Conn, broken bool) {
	defer func() { <-p.slots }()
	if broken || c.IsClosed() || c.PgConn().TxStatus() != 'I' {
		closeConn(c)
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		closeConn(c)
		return
	}
	p.idle = append(p.idle, idleConn{c: c, since: time.Now()})
	p.mu.Unlock()
}

func (p *pool) popIdle() (*pgx.Conn, time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil, time.Time{}, false
	}
	ic := p.idle[n-1]
	p.idle[n-1] = idleConn{}
	p.idle = p.idle[:n-1]
	return ic.c, ic.since, true
}

// flush closes every idle connection.
func (p *pool) flush() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, ic := range idle {
		closeConn(ic.c)
	}
}

// close closes the idle connections and makes acquire fail; connections
// in use are closed when released.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	p.flush()
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = c.Close(ctx)
}
