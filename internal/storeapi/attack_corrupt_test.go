package storeapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/storeapi"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// editedAudit is a store whose audit rows a database writer edited into a
// form the store never writes: as SQLite and PostgreSQL do, it refuses to
// read them with store.ErrCorrupt.
type editedAudit struct{ *memory.Store }

var errEdited = fmt.Errorf("%w: an audit record stored in a form agenttrust never writes", store.ErrCorrupt)

func (editedAudit) QueryAudit(context.Context, store.AuditQuery) ([]store.AuditRecord, error) {
	return nil, errEdited
}

func (editedAudit) AuditHead(context.Context, string) (store.AuditRecord, error) {
	return store.AuditRecord{}, errEdited
}

// TestAttackCorruptAuditThroughStoreAPI: a record edited behind the store's
// back is a break of its chain (store.ErrCorrupt, which verification
// reports as a *ChainError). Read through the store API it must stay one,
// not turn into an outage that an operator retries and a verification
// reports as the store being down.
func TestAttackCorruptAuditThroughStoreAPI(t *testing.T) {
	key, err := agenttrust.NewAuditKey(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, storeapi.NewHandler(editedAudit{memory.New()}))
	c := storeapi.NewClient(srv.URL, nil, nil)
	for _, tc := range []struct {
		name string
		run  func() error
		want error
	}{
		{"query_audit", func() error {
			_, err := c.QueryAudit(t.Context(), store.AuditQuery{Chain: "n1"})
			return err
		}, store.ErrCorrupt},
		{"audit_head", func() error {
			_, err := c.AuditHead(t.Context(), "n1")
			return err
		}, store.ErrCorrupt},
		{"VerifyStoredChain", func() error {
			return audit.VerifyStoredChain(t.Context(), c, "n1", key, nil)
		}, agenttrust.ErrChainBroken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.want) {
				t.Fatalf("error %v; want one matching %v", err, tc.want)
			}
		})
	}
}
