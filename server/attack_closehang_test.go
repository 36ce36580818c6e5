package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackCloseHungOpen: a tenant's Client is being opened on a store
// that hangs on that tenant and never answers (a dropped connection with
// no deadline). Close must still return, in bounded time, and refuse the
// tenant afterwards with ErrClosed; the open, when the store lets it go,
// closes the Client it built. Before, Close waited on the builder for
// ever, so a shutdown (or a server restart on a signal) hung with it.
func TestAttackCloseHungOpen(t *testing.T) {
	triggers := []struct {
		name string
		run  func(srv *Server)
	}{
		{"host_client", func(srv *Server) { srv.Client(context.Background(), "slow") }},
		{"request_gives_up", func(srv *Server) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			srv.Client(ctx, "slow")
		}},
	}
	for _, tr := range triggers {
		t.Run(tr.name, func(t *testing.T) {
			g := &gateStore{Store: memory.New(), slow: "slow", entered: make(chan struct{}), gate: make(chan struct{})}
			srv, err := New(g, WithNodeName("n1"), WithSystemTenant("ops"), WithAuditKey(testAuditKey), WithClientOptions(testkit.Keys()))
			if err != nil {
				t.Fatal(err)
			}
			srv.openWait = 100 * time.Millisecond
			defer close(g.gate) // the store answers, once the test is done
			go tr.run(srv)
			select {
			case <-g.entered:
			case <-time.After(5 * time.Second):
				t.Fatal("the tenant's open never reached the store")
			}
			closed := make(chan error, 1)
			go func() { closed <- srv.Close() }()
			select {
			case <-closed:
			case <-time.After(3 * time.Second):
				t.Fatal("Close hangs behind a tenant open the store never answers")
			}
			if _, err := srv.Client(context.Background(), "slow"); !errors.Is(err, agenttrust.ErrClosed) {
				t.Fatalf("after Close: %v, want ErrClosed", err)
			}
		})
	}
}
