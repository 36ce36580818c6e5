package webhook_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/webhook"
)

// TestAttackVerifyShortSecret: a receiver whose secret did not load (an
// unset environment variable, an empty file) called Verify with an empty
// or short secret, and Verify checked the HMAC under it: anyone could
// sign a forged notification with the empty key and have it accepted.
// New refuses a secret under MinSecretLen; Verify refuses one too, so a
// misconfigured receiver accepts nothing rather than everything.
func TestAttackVerifyShortSecret(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"approval.pending","approval":{"id":"apr_forged"}}`)
	for i, key := range [][]byte{nil, {}, []byte("k"), bytes.Repeat([]byte("k"), webhook.MinSecretLen-1)} {
		t.Run(fmt.Sprintf("%d/%d bytes", i, len(key)), func(t *testing.T) {
			forged := webhook.Sign(key, now, body) // what anyone can compute for a known or empty key
			err := webhook.Verify(key, forged, body, now, 0)
			if err == nil || !errors.Is(err, webhook.ErrSignature) {
				t.Fatalf("Verify under a %d-byte secret: %v; want a refusal matching ErrSignature", len(key), err)
			}
		})
	}
}
