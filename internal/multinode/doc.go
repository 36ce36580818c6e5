// Package multinode holds the test of agenttrust as a cluster: three
// servers (package server, as `agenttrust serve` runs them), each over a
// store of its own opened on one shared database (a PostgreSQL schema,
// then a MySQL or MariaDB database), behind a client of the test that
// sends each request to the next node in turn. It has no code of its
// own, and is a module of its own so that the core module does not
// require the database drivers.
//
// What it holds the cluster to:
//
//   - Revocation: after a revocation returned on one node, no node allows
//     what it covers. In strict mode, on the very next check (TRIALS
//     trials, each revoking on one node and checking on all three); in
//     notify mode, within MaxStaleness.
//   - A cluster-wide limit of 100 a minute allows at most 100 of 3 x 200
//     concurrent calls spread over the three nodes (where a node-local
//     limit allows 300).
//   - An approval granted on one node is consumed once, by one of many
//     concurrent checks spread over every node.
//   - Every node's audit chain verifies, and together the chains hold
//     exactly the decisions the nodes answered, with their effects.
//
// # Running
//
// Each test runs once per shared database (backends_test.go; subtests
// named after it). PostgreSQL needs AGENTTRUST_TEST_POSTGRES, the URL of
// a database it may create schemas in, and MySQL AGENTTRUST_TEST_MYSQL,
// the DSN of a user that may create databases; each skips without its
// variable (CI sets both and fails on a skip). Another database joins with one entry in
// backends: how to make fresh shared data and open a node's store on it.
// AGENTTRUST_MULTINODE_TRIALS sets the strict-mode trials (default 1,000,
// as CI runs it); the bar of 10,000:
//
//	AGENTTRUST_MULTINODE_TRIALS=10000 go test -v -run TestClusterStrictRevocation ./internal/multinode
package multinode
