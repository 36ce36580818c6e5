// Package remote measures agenttrust serve against a bare net/http JSON
// echo on loopback, in the same run, so that their ratio compares like
// with like.
//
// Run starts `agenttrust serve --data DIR/agenttrust.db` twice, once with
// --audit async and once with --audit durable (the default), each as a
// process of its own built from cmd/agenttrust, with nothing else set but
// the listen address and a seeded policy that allows the checked tool. The
// echo (command echo beside this package, a process of its own too)
// decodes a check request and encodes a response of the check's shape.
// Each target gets the same load: Clients (16) parallel callers on
// keep-alive connections, each sending a check as an agent's API key, for
// a fixed duration after a warm-up; with Rounds above 1 the targets take
// turns and each keeps its median. The table gives
// throughput, p50 and p99 latency, the CPU the server process and this
// process (the callers) spent per request, and each serve's cost in
// units of the echo's (echo req/s over serve req/s).
//
// Run it alone with
//
//	cd bench && go run ./remote/cmd/remotebench -duration 10s
//
// or as a benchmark, which reports req/s and the ratio:
//
//	cd bench && go test -run '^$' -bench Remote -benchtime 1x ./remote/
//
// The callers and the server under test share the machine's CPUs; on a
// small machine the echo's figure is bounded by the callers as much as by
// the echo, which the CPU columns show.
package remote
