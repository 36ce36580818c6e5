package mysql_test

import (
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/internal/storefaults"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackAuditLoss: a batch far larger than one statement should
// carry is stored whole, in statements of bounded size, or not at all.
func TestAttackAuditLoss(t *testing.T) {
	storefaults.AuditLoss(t, func(t *testing.T) store.Store {
		st, _ := newStore(t)
		return st
	}, strings.Repeat("r", 70_000)) // longer than the reason column holds
}
