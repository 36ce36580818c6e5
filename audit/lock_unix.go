//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package audit

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockCheckpoints takes an exclusive flock(2) on the file beside the
// checkpoint file at real (its path with symbolic links resolved), without
// waiting. The checkpoint file itself cannot carry the lock: every save
// replaces it. The lock goes with the returned file, or with the process
// when it dies.
func lockCheckpoints(real string) (*os.File, error) {
	// O_NOFOLLOW: a link planted at the lock's name is refused rather
	// than have a file made wherever it points.
	f, err := os.OpenFile(real+".lock", os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: lock %s: %w", ErrCheckpoint, real, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is in use by another process (each node needs a checkpoint file of its own)", ErrCheckpoint, real)
		}
		return nil, fmt.Errorf("%w: lock %s: %w", ErrCheckpoint, real, err)
	}
	return f, nil
}
