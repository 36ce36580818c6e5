//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package audit

import "os"

// lockCheckpoints cannot lock on this system: two processes given one
// checkpoint file are not told apart.
func lockCheckpoints(real string) (*os.File, error) { return nil, nil }
