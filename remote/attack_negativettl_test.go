package remote_test

import (
	"errors"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackDelegateNegativeTTL: a negative ttl (what is left of a
// deadline already past) travelled as no ttl at all, so the server gave
// the new token its parent's whole life. Delegate refuses it, as the
// library's Delegate does, without asking the server.
func TestAttackDelegateNegativeTTL(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("POST /v1/tokens/delegate", answer(201, `{"token":"att_del","hop":{"id":"hop_1","parent":"","token_id":"tok_1","key_id":"key_1","agent_id":"bot","caveats":[],"created_at":"2030-01-01T00:00:00Z","expires_at":"2030-01-01T00:05:00Z"}}`))
	c := f.client()
	for _, ttl := range []time.Duration{-time.Nanosecond, -500 * time.Millisecond, -time.Hour} {
		out, hop, err := c.Delegate(t.Context(), "att_tok", ttl)
		if !errors.Is(err, agenttrust.ErrInvalidRequest) || out != "" || hop.ID != "" {
			t.Errorf("Delegate(ttl %v) = %q, hop %q, %v; want a refusal matching ErrInvalidRequest", ttl, out, hop.ID, err)
		}
	}
	if n := f.hits.Load(); n != 0 {
		t.Errorf("the server was asked %d times", n)
	}
}
