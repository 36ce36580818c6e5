//go:build race

package mysql_test

// raceEnabled reports a -race build, which slows every goroutine several
// times over: latency bounds are not meaningful there.
const raceEnabled = true
