package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, c := range []store.Change{
		{Kind: store.ChangeBlock, Tenant: "acme", ID: "tok-1"},
		{Kind: store.ChangeBlock, Tenant: "", ID: "x"},
		{Kind: store.ChangeBlock, Tenant: "a:1", ID: "b:2"},
		{Kind: store.ChangeBlock, Tenant: "12:", ID: ""},
		{Kind: store.ChangeBlock, Tenant: "é", ID: "ü"},
		{Kind: store.ChangePolicy, Tenant: "acme"},
		{Kind: store.ChangePolicy, Tenant: ""},
		{Kind: store.ChangeMark, ID: "m:1"},
		{Kind: store.ChangeMark, ID: ""},
	} {
		var p string
		var err error
		switch c.Kind {
		case store.ChangeBlock:
			p, err = blockPayload("test", c.Tenant, c.ID)
		case store.ChangePolicy:
			p, err = policyPayload("test", c.Tenant)
		case store.ChangeMark:
			p = "m" + c.ID
		}
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := parsePayload(p); !ok || got != c {
			t.Errorf("parsePayload(%q) = %+v, %v; want %+v", p, got, ok, c)
		}
	}
	for _, p := range []string{"", "x", "b", "b1", "b:x", "b-1:x", "b5:abc", "bx:abc"} {
		if c, ok := parsePayload(p); ok {
			t.Errorf("parsePayload(%q) = %+v, want it refused", p, c)
		}
	}
}

func TestChannelName(t *testing.T) {
	if got := channelName("agenttrust"); got != "agenttrust.agenttrust" {
		t.Errorf("channelName = %q", got)
	}
	long := channelName("s23456789012345678901234567890123456789012345678901234567890123")
	if len(long) > maxIdentifier {
		t.Errorf("channel of a long schema has %d bytes", len(long))
	}
	if long == channelName("s23456789012345678901234567890123456789012345678901234567890124") {
		t.Error("two long schemas share a channel")
	}
}

// A Mark sent once Watch was called on the same Store is delivered, even
// while the Watch is still connecting: Mark waits for it.
func TestMarkWaitsForConnectingWatch(t *testing.T) {
	s, _, _ := openFresh(t)
	ctx := t.Context()
	for range 10 {
		wctx, cancel := context.WithCancel(ctx)
		changes := make(chan store.Change, 16)
		done := make(chan error, 1)
		go func() { done <- s.Watch(wctx, func(c store.Change) { changes <- c }) }()
		// Wait until the Watch is registered, which it is before it
		// connects; then Mark, at once.
		for registered := false; !registered; {
			s.watchMu.Lock()
			registered = len(s.watches) == 1
			s.watchMu.Unlock()
			if !registered {
				time.Sleep(10 * time.Microsecond)
			}
		}
		if err := s.Mark(ctx, "m"); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-changes:
			if c != (store.Change{Kind: store.ChangeMark, ID: "m"}) {
				t.Fatalf("Watch delivered %+v", c)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the marker sent while Watch connected was lost")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch after cancel: %v", err)
		}
	}
}
