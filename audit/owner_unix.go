//go:build unix

package audit

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedByAnother reports whether a user other than this process's (or
// root) owns the file fi describes, and its uid: that user may write it
// whatever its mode. A FileInfo that does not say counts as another's.
func ownedByAnother(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, true
	}
	return st.Uid, st.Uid != 0 && st.Uid != uint32(os.Geteuid())
}
