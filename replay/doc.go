// Package replay tells what a policy change would do before it ships: it
// re-evaluates the decisions of an audit trail against a proposed policy
// and reports which would change (allow to deny, deny to allow, to
// needs_approval...), how many by old and new rule, examples, and the
// agents affected.
//
// # What is replayed
//
// Only what the policy decided. A record decided by another phase of the
// check (a refused credential, a revocation, a rate limit, a consumed
// approval, the runaway breaker, a budget, a store that was down) keeps its
// outcome whatever the policy, and is counted by its Phase in
// Report.NotReplayable; so are operator records, which are no check. A
// deny of the approval phase (too many open approvals, attributes too
// large for one) is replayed: unchanged while the same rule still asks
// for an approval, a change otherwise.
//
// # What cannot be told
//
// A record keeps less than the policy saw: secret attributes and
// credentials inside values are redacted, text that was not storable is
// altered, attributes too large to record are replaced by a mark, a
// resource that normalisation lengthened past the record's bound is cut,
// and the remote address is not recorded. Nor is how the request held
// an integer past 2^53: as a Go integer, read exactly, or as text, judged
// only where it and the nearest float64 agree. When the new outcome
// depends on any of these, the record counts as unknown, never as
// allowed or unchanged. With a Policy (rather than an Engine) replay knows which
// conditions read what, and counts as unknown exactly the records whose
// outcome could differ with the values it lacks.
//
// # Cost
//
// Records are read once, in order, from any iterator (Records reads an
// audit store page by page), and evaluated by several workers; memory
// does not grow with the length of the log. A million records replay in
// a few seconds on two cores (BenchmarkRun, TestMillion); reading them
// from a store costs more than replaying them (TestReplayMillionSQLite
// in cmd/agenttrust measures both).
//
// # Command line
//
//	agenttrust policy replay --policy new.yaml --since 7d [--json]
//
// reads the tenant's audit through the server's API with an admin key, as
// the audit commands do.
package replay
