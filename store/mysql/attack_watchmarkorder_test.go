package mysql_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/mysql"
)

// TestAttackWatchMarkOvertaken: a mark must come before every change
// committed after Mark returned. A poll begun before a mark was added
// does not deliver that mark (the poll must prove the log as read since),
// and Watch went on to deliver the changes that poll found: a change
// committed after the mark overtook it. Notify mode takes a mark as proof
// that the view holds everything committed before it, so a node could
// call its view fresh while a revocation it had not applied was already
// past. The race is made certain here: between the moment a poll takes
// its mark count and its query, another mark is added and a suspension
// committed.
func TestAttackWatchMarkOvertaken(t *testing.T) {
	s, _ := newStore(t, mysql.WithPollInterval(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan store.Change, 16)
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, func(c store.Change) { got <- c }) }()
	next := func() store.Change {
		t.Helper()
		select {
		case c := <-got:
			return c
		case err := <-done:
			t.Fatalf("Watch ended: %v", err)
		case <-ctx.Done():
			t.Fatal("nothing delivered")
		}
		return store.Change{}
	}
	// The feed is running once a first mark comes through. A mark sent
	// before Watch registered is not delivered, so it is sent again until
	// one is.
warm:
	for {
		if err := s.Mark(ctx, "m0"); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-got:
			if c.Kind == store.ChangeMark && c.ID == "m0" {
				break warm
			}
		case err := <-done:
			t.Fatalf("Watch ended: %v", err)
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("the feed never started")
		}
	}
	// Later copies of m0 may still come; they are read past below.
	var once sync.Once
	mysql.SetBeforePoll(s, func() {
		once.Do(func() {
			if err := s.Mark(ctx, "m2"); err != nil {
				t.Error(err)
			}
			if err := s.Suspend(ctx, store.Block{Tenant: "acme", ID: "bot", Reason: "late", CreatedAt: time.Now()}); err != nil {
				t.Error(err)
			}
		})
	})
	if err := s.Mark(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	var order []string
	for len(order) < 3 {
		c := next()
		if c.Kind == store.ChangeMark && c.ID == "m0" {
			continue
		}
		if c.Kind == store.ChangeMark {
			order = append(order, c.ID)
		} else {
			order = append(order, c.Tenant+"/"+c.ID)
		}
	}
	if order[0] != "m1" || order[1] != "m2" || order[2] != "acme/bot" {
		t.Fatalf("delivered %q, want [m1 m2 acme/bot]: the suspension committed after m2 overtook it", order)
	}
}
