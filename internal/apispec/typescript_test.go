package apispec_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/server"
)

// apiDir holds api/openapi.yaml and the TypeScript client's package
// (package.json, package-lock.json, ts/).
const apiDir = "../../api"

// TestTypeScriptClient generates a TypeScript client from the spec with
// openapi-typescript, compiles api/ts/client.test.ts with tsc --strict,
// and runs it with node --test against a server behind the checker:
// create an agent's key, store a policy, check an allowed, a denied and
// a held action, approve the held one, every request and response
// validated against the spec on the way. It needs node and
// `npm ci` in api/; without them it skips, unless AGENTTRUST_TEST_NODE=1
// (as in .ci/run), when it fails.
func TestTypeScriptClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node")
	}
	missing := func(what string) {
		t.Helper()
		if os.Getenv("AGENTTRUST_TEST_NODE") == "1" {
			t.Fatalf("%s; AGENTTRUST_TEST_NODE=1 says this test must run", what)
		}
		t.Skip(what)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("no node on PATH")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		missing("no npm on PATH")
	}
	if _, err := os.Stat(filepath.Join(apiDir, "node_modules", "openapi-typescript")); err != nil {
		missing("api/node_modules is not installed (cd api && npm ci)")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(env []string, name string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = apiDir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		t.Logf("%s %v:\n%s", name, args, out)
	}
	// Stale output of an earlier run must not stand in for this one's.
	for _, dir := range []string{"ts/gen", "ts/dist"} {
		if err := os.RemoveAll(filepath.Join(apiDir, dir)); err != nil {
			t.Fatal(err)
		}
	}
	run(nil, "npm", "run", "--silent", "generate")
	run(nil, "npm", "run", "--silent", "build")

	a := newAPI(t, server.DefaultBodyTimeout)
	run([]string{"AGENTTRUST_URL=" + a.ts.URL, "AGENTTRUST_ADMIN_KEY=" + a.admin}, "node", "--test", "ts/dist/")
	for _, op := range []string{"POST /v1/keys", "PUT /v1/policy", "POST /v1/actions/check", "POST /v1/approvals/{id}/approve", "GET /v1/approvals/{id}"} {
		if len(a.check.statuses(op)) == 0 {
			t.Errorf("the TypeScript client never reached %s", op)
		}
	}
}
