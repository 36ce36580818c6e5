package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAttackCheckpointResetLosesKeptFile: a reset keeps the old
// checkpoint file as <file>.replaced-<unix seconds>, the evidence of what
// the chains held. A second reset within the same second (the flag left
// in a unit that restarts at once) renamed the first reset's empty file
// over that name, and the evidence was gone. No reset may replace a kept
// file.
func TestAttackCheckpointResetLosesKeptFile(t *testing.T) {
	d := deployed(t)
	original, err := os.ReadFile(d.checkpoints)
	if err != nil {
		t.Fatal(err)
	}
	// Both resets within one second: start just after a second begins.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	for range 2 {
		if err, log := d.serve(t, true); err != nil {
			t.Fatalf("Serve with reset: %v\n%s", err, log)
		}
	}
	kept, _ := filepath.Glob(d.checkpoints + ".replaced-*")
	for _, k := range kept {
		if b, err := os.ReadFile(k); err == nil && bytes.Equal(b, original) {
			return
		}
	}
	t.Fatalf("the checkpoint file before the resets is kept nowhere (kept: %v)", kept)
}
