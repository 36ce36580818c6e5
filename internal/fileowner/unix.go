//go:build unix

// Package fileowner tells whether a file belongs to another user, for
// the files a process trusts (secrets, checkpoints, keys, databases): a
// file another user owns can be rewritten by that user whatever its
// mode.
package fileowner

import (
	"io/fs"
	"os"
	"syscall"
)

// Another reports whether a user other than this process's (or root)
// owns the file fi describes, and its uid. A FileInfo that does not say
// counts as another's.
func Another(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, true
	}
	return st.Uid, st.Uid != 0 && st.Uid != uint32(os.Geteuid())
}
