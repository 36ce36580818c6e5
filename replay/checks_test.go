package replay_test

import "github.com/agenttrust/agenttrust/internal/testkit"

// must stops a test at a check that fails; expect lets it go on.
var must, expect = testkit.Must, testkit.Expect
