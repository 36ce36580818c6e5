//go:build !unix

package cli

// oNoFollow: no such flag here; O_EXCL still refuses a link at the path.
const oNoFollow = 0
