package webhook_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/webhook"
)

// TestAttackZeroSecret: a receiver whose secret was read into a buffer
// that the read never filled (a failed read unnoticed, a file shorter
// than the buffer, a zero-padded setting) holds a secret of the right
// length that is all zero bytes, and Verify checked the HMAC under it:
// anyone could sign a forged notification with the zero key and have it
// accepted. As for a short secret, Verify accepts nothing under it and
// New refuses it.
func TestAttackZeroSecret(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"approval.pending","approval":{"id":"apr_forged"}}`)
	for _, n := range []int{webhook.MinSecretLen, 64} {
		key := make([]byte, n)
		t.Run(fmt.Sprintf("Verify/%d bytes", n), func(t *testing.T) {
			forged := webhook.Sign(key, now, body) // what anyone can compute
			if err := webhook.Verify(key, forged, body, now, 0); !errors.Is(err, webhook.ErrSignature) {
				t.Errorf("Verify under %d zero bytes: %v; want a refusal matching ErrSignature", n, err)
			}
		})
		t.Run(fmt.Sprintf("New/%d bytes", n), func(t *testing.T) {
			nt, err := webhook.New(webhook.Config{URL: "http://127.0.0.1:1/hook", Secret: key})
			if nt != nil {
				nt.Close(t.Context())
			}
			if !errors.Is(err, webhook.ErrConfig) {
				t.Errorf("New with %d zero bytes: %v; want ErrConfig", n, err)
			}
		})
	}
}
