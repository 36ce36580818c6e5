package postgres_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/storefaults"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/postgres"
)

// next returns the next change, skipping StartWatch's markers.
func next(t *testing.T, changes <-chan store.Change) store.Change {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c := <-changes:
			if c.Kind == store.ChangeMark && strings.HasPrefix(c.ID, "sync-") {
				continue
			}
			return c
		case <-timeout:
			t.Fatal("Watch delivered nothing within 10s")
			return store.Change{}
		}
	}
}

// Changes committed by another store on the schema (another node) reach a
// watcher, in commit order, before a marker sent after them; refused
// writes send nothing.
func TestWatchAcrossNodes(t *testing.T) {
	url := testURL(t)
	schema := freshSchema(t, url)
	a, b := open(t, url, schema), open(t, url, schema)
	ctx := t.Context()
	changes, _ := storefaults.StartWatch(t, a)

	if err := b.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok-1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Revoke(ctx, store.Block{Tenant: "acme", ID: "bad\x00id"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Revoke of an id with a NUL: %v", err)
	}
	if err := b.Resume(ctx, "acme", "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Resume of nobody: %v", err)
	}
	if _, err := b.PutPolicy(ctx, store.PolicyDoc{Tenant: "t:1", Body: []byte("p")}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutPolicy(ctx, store.PolicyDoc{Tenant: "t:1"}, 5); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale PutPolicy: %v", err)
	}
	if err := b.Suspend(ctx, store.Block{Tenant: "te:nant", ID: "ag:ent"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Mark(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []store.Change{
		{Kind: store.ChangeBlock, Tenant: "acme", ID: "tok-1"},
		{Kind: store.ChangePolicy, Tenant: "t:1"},
		{Kind: store.ChangeBlock, Tenant: "te:nant", ID: "ag:ent"},
		{Kind: store.ChangeMark, ID: "done"},
	} {
		if got := next(t, changes); got != want {
			t.Fatalf("change %d: %+v, want %+v", i, got, want)
		}
	}
}

// Watch holds a connection of its own: with a pool of one, the store's
// methods still run while it watches.
func TestWatchOwnConnection(t *testing.T) {
	s, _ := newStore(t, postgres.WithMaxConns(1), postgres.WithQueryTimeout(time.Second))
	ctx := t.Context()
	changes, _ := storefaults.StartWatch(t, s)
	_, done := storefaults.StartWatch(t, s)
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok-1"}); err != nil {
		t.Fatalf("Revoke while two Watches run on a pool of one: %v", err)
	}
	if got := next(t, changes); got != (store.Change{Kind: store.ChangeBlock, Tenant: "acme", ID: "tok-1"}) {
		t.Fatalf("Watch delivered %+v", got)
	}
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("Watch ended by Close: %v, want one wrapping %v", err, store.ErrClosed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after Close")
	}
}

func TestWatchNilFunc(t *testing.T) {
	s, _ := newStore(t)
	if err := s.Watch(t.Context(), nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Watch(nil): %v, want one wrapping %v", err, store.ErrInvalid)
	}
}
