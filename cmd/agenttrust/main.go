// Command agenttrust runs the agenttrust server and administers it.
//
//	agenttrust serve                      # SQLite file ./agenttrust.db
//	agenttrust serve --postgres URL --secrets /etc/agenttrust/secrets.json
//	export AGENTTRUST_KEY=atk_...         # the admin key printed on first start
//	agenttrust key create --agent billing-bot
//	agenttrust policy apply policy.yaml
//	agenttrust check --agent billing-bot --tool payments.charge --attr amount=40
//
// "agenttrust version" (or --version) prints the module version, VCS
// revision and time, and Go version the binary was built with.
//
// Run "agenttrust --help" for the commands and "agenttrust <command>
// --help" for their flags. Every flag that configures the server or the
// connection to it may be given as an AGENTTRUST_* environment variable
// instead (--server as AGENTTRUST_SERVER, --key as AGENTTRUST_KEY, ...);
// a flag on the command line wins.
//
// # Output
//
// Commands print tables for people; --json prints JSON for scripts (audit
// query and tail print one JSON record per line). Errors go to stderr and
// never hold a secret. Nothing is printed with a raw control, DEL, C1,
// bidi or other format character (tab and newline aside), whoever chose
// the text: --json escapes them as \u escapes, so the JSON is the same,
// tables and messages escape them visibly, and everything written to
// stdout and stderr passes one filter that escapes whatever else would
// hold one.
//
// # Exit codes
//
//	0  success; for check, the action is allowed
//	1  failure: the server could not be reached or refused the request,
//	   a file could not be read, an audit chain is broken
//	2  usage error: unknown command or flag, missing argument
//	3  check: the action is denied (including by a revoked, expired or
//	   otherwise rejected credential)
//	4  check: the action needs an approval
//
// A check that could not be made (the server unreachable, its store down)
// exits 1: any code but 0 means the action must not proceed.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal ends ctx (serve shuts down gracefully); a second
	// one kills the process as usual.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code. ctx ends
// the server of "serve" (on SIGINT or SIGTERM in main).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, buildInfo: debug.ReadBuildInfo}
	return e.run(ctx, args)
}

// commands is the command tree.
func commands() *command {
	return &command{
		name: "agenttrust",
		help: `agenttrust is runtime authorization for AI agents: "serve" runs the server,
the other commands administer it through its API (--server, --key).`,
		subs: []*command{
			serveCommand(),
			keyCommand(),
			tokenCommand(),
			checkCommand(),
			revokeCommand(),
			budgetCommand(),
			blocksCommand(),
			agentCommand(),
			approvalsCommand(),
			auditCommand(),
			policyCommand(),
			whoamiCommand(),
			versionCommand(),
		},
	}
}
