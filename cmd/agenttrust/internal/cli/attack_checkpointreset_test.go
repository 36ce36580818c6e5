//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package cli

import (
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust/audit"
)

// TestAttackCheckpointResetUnderRunningNode: --audit-checkpoint-reset
// given to a second serve while another process holds the checkpoint
// file (a restart scripted before the old node has exited, two nodes
// sharing a secrets file) moved the running node's file aside and left an
// empty one in its place before finding the file in use: until the
// running node next wrote it, and for good if it stopped first, its
// chains had no checkpoint, and records cut from their end went unseen.
// A reset of a file in use must change nothing.
func TestAttackCheckpointResetUnderRunningNode(t *testing.T) {
	d := deployed(t)
	chain := "n1/" + DefaultSystemTenant
	running, err := audit.OpenCheckpoints(audit.CheckpointConfig{Path: d.checkpoints, Key: d.key})
	if err != nil {
		t.Fatal(err)
	}
	want, ok := running.Latest(chain)
	if !ok {
		t.Fatal("the deployment has no checkpoint")
	}
	err, log := d.serve(t, true)
	if !errors.Is(err, audit.ErrCheckpoint) {
		t.Errorf("reset of a file in use: %v, want ErrCheckpoint\n%s", err, log)
	}
	if err := running.Close(); err != nil { // stops before writing again
		t.Fatal(err)
	}
	again, err := audit.OpenCheckpoints(audit.CheckpointConfig{Path: d.checkpoints, Key: d.key})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got, ok := again.Latest(chain); !ok || got.Seq != want.Seq || got.Head != want.Head {
		t.Fatalf("after a refused reset the file holds %+v, %v; want the running node's %+v", got, ok, want)
	}
}
