//go:build unix

package cli

import "syscall"

// oNoFollow makes an open refuse a symbolic link as the file's last
// element.
const oNoFollow = syscall.O_NOFOLLOW
