package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust/store"
)

// Notifications on the schema's channel carry one change each, as text:
//
//	b<len(tenant)>:<tenant><id>   a block of id in tenant, added or lifted
//	p<tenant>                     tenant's policy replaced
//	m<token>                      a marker sent by Mark
//
// with len in bytes, in decimal. PostgreSQL refuses payloads of 8000 bytes
// or more, which bounds the tenant and id of a block and a Mark token.
const maxPayload = 7999

func blockPayload(op, tenant, id string) (string, error) {
	p := "b" + strconv.Itoa(len(tenant)) + ":" + tenant + id
	if len(p) > maxPayload {
		return "", invalid(op, "tenant and id too long (%d bytes, at most %d)", len(tenant)+len(id), maxPayload-8)
	}
	return p, nil
}

func policyPayload(op, tenant string) (string, error) {
	if len(tenant) >= maxPayload {
		return "", invalid(op, "tenant too long (%d bytes, at most %d)", len(tenant), maxPayload-1)
	}
	return "p" + tenant, nil
}

// parsePayload decodes a notification; ok is false for one this package
// did not send.
func parsePayload(p string) (c store.Change, ok bool) {
	if p == "" {
		return store.Change{}, false
	}
	switch rest := p[1:]; p[0] {
	case 'b':
		colon := strings.IndexByte(rest, ':')
		if colon < 0 {
			return store.Change{}, false
		}
		n, err := strconv.Atoi(rest[:colon])
		rest = rest[colon+1:]
		if err != nil || n < 0 || n > len(rest) {
			return store.Change{}, false
		}
		return store.Change{Kind: store.ChangeBlock, Tenant: rest[:n], ID: rest[n:]}, true
	case 'p':
		return store.Change{Kind: store.ChangePolicy, Tenant: rest}, true
	case 'm':
		return store.Change{Kind: store.ChangeMark, ID: rest}, true
	}
	return store.Change{}, false
}

// watch is one running Watch.
type watch struct {
	cancel    context.CancelCauseFunc
	listening chan struct{} // closed once LISTEN ran, or failed
}

// Watch implements store.Watcher with LISTEN on a connection of its own,
// outside the pool. It returns ctx's error when ctx ends, one wrapping
// store.ErrClosed when the store is closed, and one wrapping
// store.ErrUnavailable when the connection cannot be made, breaks, or does
// not answer a heartbeat (see WithHeartbeat).
//
// A Mark sent after Watch was called, from the same Store, is delivered:
// Mark waits for the Watch calls of its Store that are still connecting.
func (s *Store) Watch(ctx context.Context, fn func(store.Change)) error {
	const op = "watch"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if fn == nil {
		return invalid(op, "nil callback")
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := &watch{cancel: cancel, listening: make(chan struct{})}
	s.watchMu.Lock()
	if !s.open.Load() {
		s.watchMu.Unlock()
		return fmt.Errorf("%s %s: %w", prefix, op, store.ErrClosed)
	}
	s.watches[w] = struct{}{}
	s.watchMu.Unlock()
	defer func() {
		s.watchMu.Lock()
		delete(s.watches, w)
		s.watchMu.Unlock()
	}()

	conn, err := s.listen(wctx)
	close(w.listening)
	if err != nil {
		return s.watchFail(ctx, wctx, op, err)
	}
	defer closeConn(conn)

	for {
		hctx, hcancel := context.WithTimeout(wctx, s.heartbeat)
		n, err := conn.WaitForNotification(hctx)
		hcancel()
		// Nothing is delivered once wctx ends (store.Watcher).
		if n != nil && n.Channel == s.channel && wctx.Err() == nil {
			if c, ok := parsePayload(n.Payload); ok {
				fn(c)
			}
		}
		switch {
		case err == nil:
			continue
		case wctx.Err() != nil:
			return s.watchFail(ctx, wctx, op, err)
		case hctx.Err() != nil && !conn.IsClosed():
			// Silent for a heartbeat: check that the server still
			// answers. Notifications that arrive meanwhile are kept by
			// pgx for the next wait.
			pctx, pcancel := context.WithTimeout(wctx, s.timeout)
			err = conn.Ping(pctx)
			pcancel()
			if err == nil {
				continue
			}
		}
		return s.watchFail(ctx, wctx, op, err)
	}
}

// listen opens the dedicated connection and subscribes to the channel.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, s.listenCfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

func (s *Store) watchFail(ctx, wctx context.Context, op string, err error) error {
	if cause := context.Cause(wctx); errors.Is(cause, store.ErrClosed) {
		return fmt.Errorf("%s %s: %w", prefix, op, store.ErrClosed)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", prefix, op, ctxErr)
	}
	return fmt.Errorf("%s %s: feed lost: %w: %w", prefix, op, store.ErrUnavailable, err)
}

// Mark implements store.Watcher: it notifies the channel with the token,
// after every Watch of this Store that is still connecting has started
// listening.
func (s *Store) Mark(ctx context.Context, token string) error {
	const op = "mark"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if len(token) >= maxPayload {
		return invalid(op, "token too long (%d bytes, at most %d)", len(token), maxPayload-1)
	}
	if err := s.awaitListening(ctx, op); err != nil {
		return err
	}
	payload := "m" + token
	return s.write(ctx, op, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, payload)
		return err
	})
}

// awaitListening waits until no Watch of s is connecting.
func (s *Store) awaitListening(ctx context.Context, op string) error {
	s.watchMu.Lock()
	var pending []chan struct{}
	for w := range s.watches {
		select {
		case <-w.listening:
		default:
			pending = append(pending, w.listening)
		}
	}
	s.watchMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	for _, ch := range pending {
		select {
		case <-ch:
		case <-ctx.Done():
			return s.fail(ctx, op, ctx.Err())
		}
	}
	return nil
}
