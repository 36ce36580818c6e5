package memory_test

import (
	"testing"

	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/storetest"
)

// BenchmarkTakeRate measures a take of a cluster-wide rate limit.
func BenchmarkTakeRate(b *testing.B) {
	s := memory.New()
	defer s.Close()
	storetest.BenchmarkRates(b, s)
}
