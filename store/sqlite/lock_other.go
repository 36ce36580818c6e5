//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

import "os"

// lockFile cannot lock on this system: it reports so, and an Open with
// WithExclusive keeps no view (Blocked reads the table on every call).
func lockFile(path string, exclusive bool) (*os.File, bool, error) { return nil, false, nil }
