package scale

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBudget: the memory store's revocations loaded in 112ms (1,000) and
// 3.9s (10,000); 100,000 then took 10m31s. A budget of 5m must refuse
// that step, which a projection at the measured growth (1.54) allowed.
func TestBudget(t *testing.T) {
	r := &run{opts: Options{LoadBudget: 5 * time.Minute}}
	quadratic := []Point{{N: 1_000, Load: 112 * time.Millisecond}, {N: 10_000, Load: 3919 * time.Millisecond}}
	est, ok := r.budget(quadratic, 100_000)
	require.False(t, ok, "estimated %s", est)
	require.GreaterOrEqual(t, est, 5*time.Minute)

	// Linear loads (SQLite in one transaction) go on: 1s for 100,000
	// rows makes about 9s more for 1,000,000.
	linear := []Point{{N: 10_000, Load: 100 * time.Millisecond}, {N: 100_000, Load: time.Second}}
	est, ok = r.budget(linear, 1_000_000)
	require.True(t, ok)
	require.InDelta(t, float64(9*time.Second), float64(est), float64(time.Second))

	_, ok = r.budget(nil, 10)
	require.True(t, ok, "the first size is always loaded")
}
