package mysql_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/mysql"
)

// Open a store, revoke a token, and check it as every check does. The
// example needs a database, so it has no output to compare.
func ExampleOpen() {
	ctx := context.Background()
	s, err := mysql.Open(ctx, "agenttrust:secret@tcp(localhost:3306)/agenttrust",
		mysql.WithTablePrefix("agenttrust_"),
		mysql.WithQueryTimeout(time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok_123", Reason: "leaked"}); err != nil {
		log.Fatal(err)
	}
	b, blocked, err := s.Blocked(ctx, "acme", []string{"agent-1", "tok_123"})
	switch {
	case errors.Is(err, store.ErrUnavailable):
		log.Print("database unreachable: deny")
	case err != nil:
		log.Fatal(err)
	case blocked:
		log.Printf("%s is %s: deny", b.ID, b.Kind)
	}
}

// Keep an in-memory view of revocations current: reread the state, then
// apply each change Watch delivers; when the feed breaks, watch again and
// reread, since changes during the gap are not replayed.
func ExampleStore_Watch() {
	ctx := context.Background()
	s, err := mysql.Open(ctx, "agenttrust:secret@tcp(localhost:3306)/agenttrust")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	for ctx.Err() == nil {
		err := s.Watch(ctx, func(c store.Change) {
			switch c.Kind {
			case store.ChangeBlock:
				log.Printf("block of %s in %s changed: reload it", c.ID, c.Tenant)
			case store.ChangePolicy:
				log.Printf("policy of %s replaced: reload it", c.Tenant)
			case store.ChangeMark:
				log.Printf("current up to marker %s", c.ID)
			}
		})
		if errors.Is(err, store.ErrClosed) {
			return
		}
		log.Printf("watch ended: %v; rereading the state", err)
		time.Sleep(time.Second)
	}
}
