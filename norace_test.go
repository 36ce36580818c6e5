//go:build !race

package agenttrust_test

const raceEnabled = false
