//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes a flock(2) lock on the lock file beside the database,
// exclusive or shared, without waiting: every Open takes one, so an
// exclusive Store and any other Store of the same file, in this process
// or another, cannot be open together. The lock goes with the returned
// file (or with the process, when it dies). flock is separate from the
// POSIX locks SQLite takes on the database itself.
func lockFile(path string, exclusive bool) (*os.File, bool, error) {
	// O_NOFOLLOW: a symbolic link planted at the lock's name is refused
	// (ELOOP) rather than followed to make a file wherever it points.
	f, err := os.OpenFile(path+lockSuffix, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, true, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		_ = f.Close()
		return nil, true, ErrInUse
	}
	if err != nil {
		_ = f.Close()
		return nil, true, fmt.Errorf("lock %s: %w", path+lockSuffix, err)
	}
	return f, true, nil
}
