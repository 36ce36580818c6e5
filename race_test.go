//go:build race

package agenttrust_test

// raceEnabled reports a -race build, where allocation counts are not
// meaningful: the race runtime drops sync.Pool items at random.
const raceEnabled = true
