//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The end-to-end test builds the command, runs "serve" as a process on a
// loopback port with a temporary SQLite file, and drives it as an
// operator would: with the command itself and with raw HTTP requests, as
// curl sends them. It then stops the server with SIGTERM, starts it again
// on the same file and finds everything where it was.

// e2e is the built binary and the state of the scenario.
type e2e struct {
	t   *testing.T
	bin string
	dir string
	db  string

	proc   *exec.Cmd
	stderr *syncBuffer
	exited chan error
	url    string

	// decisions counts the decisions the server made (each has an audit
	// record), to compare with the audit trail.
	decisions int
	// ops counts the operator actions (key creation, policy, approval,
	// revocation), each recorded in the same chain with a Tool starting
	// "agenttrust.".
	ops int
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the binary")
	}
	dir := t.TempDir()
	x := &e2e{t: t, bin: filepath.Join(dir, "agenttrust"), dir: dir, db: filepath.Join(dir, "agenttrust.db")}
	build := exec.Command("go", "build", "-o", x.bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// First start: the store, the secrets and the admin key are made.
	x.start()
	admin := x.adminKey()
	x.ops++ // the bootstrap admin key
	fi, err := os.Stat(x.db + ".secrets")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file beside the database: %v, %v", fi, err)
	}
	as := map[string]string{"AGENTTRUST_KEY": admin}

	// Keys: an agent's and an approver's.
	agentSecret, agentKeyID := x.createKey(as, "--agent", "billing-bot", "--name", "billing")
	approverSecret, _ := x.createKey(as, "--agent", "alice", "--role", "approver")
	agent := map[string]string{"AGENTTRUST_KEY": agentSecret}
	approver := map[string]string{"AGENTTRUST_KEY": approverSecret}

	// Policy: small charges allowed, big ones held for approval, deletes
	// denied.
	polFile := filepath.Join(x.dir, "policy.yaml")
	if err := os.WriteFile(polFile, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	x.ok(as, "policy", "validate", polFile)
	if out := x.ok(as, "policy", "apply", polFile, "--json"); !strings.Contains(out, `"version": 1`) {
		t.Fatalf("policy apply: %s", out)
	}
	x.ops++

	// Exchange the agent's key for a token, and narrow it offline.
	token := strings.TrimSpace(x.ok(agent, "token", "exchange"))
	x.ops++ // a mint is recorded as an operator action is (the offline attenuation is not)
	narrowed := strings.TrimSpace(x.ok(nil, "token", "attenuate", token, "--caveat", "tool in payments.*"))
	var info tokenView
	x.okJSON(nil, &info, "token", "inspect", narrowed, "--json")
	if info.AgentID != "billing-bot" || info.KeyID != agentKeyID || len(info.HopIDs) != 1 || !slices.Contains(info.Caveats, "tool in payments.*") {
		t.Fatalf("inspect: %+v", info)
	}
	tok := map[string]string{"AGENTTRUST_KEY": narrowed}

	// A JWT minted for another audience the server was told of (--audience)
	// is checked here; the OAuth metadata names the --issuer.
	mailJWT := strings.TrimSpace(x.ok(agent, "token", "exchange", "--jwt", "--audience", "https://mail.example", "--caveat", "tool in payments.*"))
	x.ops++
	x.check(map[string]string{"AGENTTRUST_KEY": mailJWT}, exitOK, "allow", "--tool", "payments.charge", "--resource", "cust-1", "--attr", "amount=1")
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	x.http("GET", "/.well-known/oauth-authorization-server", "", "", 200, &meta)
	if meta.Issuer != "https://agenttrust.example" || meta.TokenEndpoint != "https://agenttrust.example/oauth/token" {
		t.Errorf("OAuth metadata %+v", meta)
	}

	// Checks with the narrowed token, through the command: exit codes.
	x.check(tok, exitOK, "allow", "--tool", "payments.charge", "--resource", "cust-1", "--attr", "amount=20")
	x.check(tok, exitDenied, "deny", "--tool", "payments.delete", "--resource", "cust-1")
	x.check(tok, exitDenied, "deny", "--tool", "mail.send") // outside the token's caveat
	held := x.check(tok, exitNeedsApproval, "needs_approval", "--tool", "payments.charge", "--resource", "cust-2", "--attr", "amount=500")
	if !strings.HasPrefix(held.ApprovalID, "apr_") {
		t.Fatalf("needs approval without an approval id: %+v", held)
	}

	// Budgets: a key with 50 USD to spend, a delegation carving 30 of it,
	// spent by checks; "budget" shows what remains.
	budgetSecret, budgetKeyID := x.createKey(as, "--agent", "billing-bot", "--budget", "attr.amount <= 50 USD")
	bk := map[string]string{"AGENTTRUST_KEY": budgetSecret}
	child := strings.TrimSpace(x.ok(bk, "token", "delegate", strings.TrimSpace(x.ok(bk, "token", "exchange")), "--budget", "attr.amount <= 30 USD"))
	x.ops += 2 // the exchange and the delegation
	ct := map[string]string{"AGENTTRUST_KEY": child}
	x.check(ct, exitOK, "allow", "--tool", "payments.charge", "--resource", "cust-1", "--attr", "amount=20", "--attr", "currency=USD")
	if d := x.check(ct, exitDenied, "deny", "--tool", "payments.charge", "--resource", "cust-1", "--attr", "amount=20", "--attr", "currency=USD"); !strings.HasPrefix(d.RuleID, "budget:hop_") {
		t.Errorf("a charge past the delegation's budget: %+v", d)
	}
	var budgets []budgetView
	x.okJSON(as, &budgets, "budget", budgetKeyID, "--json")
	if len(budgets) != 1 || budgets[0].Name != "attr.amount USD" || budgets[0].Spent != 20_000_000 || budgets[0].Carved != 30_000_000 || budgets[0].Remaining != 20_000_000 {
		t.Errorf("budget of the key: %+v", budgets)
	}
	if out := x.ok(as, "budget", budgetKeyID); !strings.Contains(out, "attr.amount USD") || !strings.Contains(out, "50") {
		t.Errorf("budget table:\n%s", out)
	}

	// The same checks as raw HTTP.
	for _, tc := range []struct {
		body, effect string
	}{
		{`{"tool_name":"payments.charge","resource":"cust-1","attributes":{"amount":20}}`, "allow"},
		{`{"tool_name":"payments.delete","resource":"cust-1"}`, "deny"},
		{`{"tool_name":"payments.charge","resource":"cust-3","attributes":{"amount":900}}`, "needs_approval"},
	} {
		var d checkView
		x.http("POST", "/v1/actions/check", narrowed, tc.body, http.StatusOK, &d)
		if d.Effect != tc.effect || d.Allowed != (tc.effect == "allow") || d.DecisionID == "" {
			t.Errorf("raw check %s: %+v, want %s", tc.body, d, tc.effect)
		}
		x.decisions++
	}
	x.http("POST", "/v1/actions/check", "", `{"tool_name":"payments.charge"}`, http.StatusUnauthorized, nil)

	// Approval: the agent may not approve its own request; the approver may.
	var pending []approvalView
	x.okJSON(approver, &pending, "approvals", "list", "--status", "pending", "--json")
	if !slices.ContainsFunc(pending, func(a approvalView) bool { return a.ID == held.ApprovalID }) {
		t.Fatalf("approval %s not listed: %+v", held.ApprovalID, pending)
	}
	if r := x.cli(agent, "approvals", "approve", held.ApprovalID); r.code != exitFailure || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("the agent approving: exit %d, %s", r.code, r.stderr)
	}
	var decided approvalView
	x.okJSON(approver, &decided, "approvals", "approve", held.ApprovalID, "--note", "ok", "--json")
	if decided.Status != "approved" || decided.DecidedBy != "alice" {
		t.Fatalf("approve: %+v", decided)
	}
	x.ops++
	// The approved request is allowed once, then held again.
	again := []string{"--tool", "payments.charge", "--resource", "cust-2", "--attr", "amount=500"}
	if d := x.check(tok, exitOK, "allow", again...); d.ApprovalID != held.ApprovalID {
		t.Errorf("allowed by approval %q, want %q", d.ApprovalID, held.ApprovalID)
	}
	x.check(tok, exitNeedsApproval, "needs_approval", again...)

	// Revocations: a session id, then the agent's key and so its tokens.
	x.ok(as, "revoke", "sess-evil")
	x.ops++
	x.check(as, exitDenied, "deny", "--agent", "billing-bot", "--session", "sess-evil", "--tool", "payments.charge", "--attr", "amount=1")
	x.ok(as, "key", "revoke", agentKeyID)
	x.ops++
	d := x.check(as, exitDenied, "deny", "--credential", narrowed, "--tool", "payments.charge", "--attr", "amount=1")
	if d.Error != "revoked" {
		t.Errorf("check of a revoked token: error %q, want revoked", d.Error)
	}
	// The token as its own bearer is refused, and the attempt recorded.
	if r := x.cli(tok, "check", "--tool", "payments.charge", "--attr", "amount=1"); r.code != exitDenied {
		t.Errorf("check by a revoked token: exit %d, %s", r.code, r.stderr)
	}
	x.decisions++
	var raw checkView
	x.http("POST", "/v1/actions/check", admin, `{"tool_name":"payments.charge","attributes":{"amount":1},"credential":"`+narrowed+`"}`, http.StatusOK, &raw)
	if raw.Allowed || raw.Error != "revoked" {
		t.Errorf("raw check of a revoked token: %+v", raw)
	}
	x.decisions++

	// The audit trail verifies, through the command and raw HTTP.
	x.verify(as, -1)
	var rawVerify struct {
		OK bool `json:"ok"`
	}
	x.http("GET", "/v1/audit/verify", approverSecret, "", http.StatusOK, &rawVerify)
	if !rawVerify.OK {
		t.Errorf("raw audit verify: not ok")
	}
	// A last decision just before the stop: its record must be flushed.
	x.check(as, exitOK, "allow", "--agent", "billing-bot", "--tool", "payments.charge", "--attr", "amount=2")

	// Stop, and start again on the same file.
	x.stop()
	if !strings.Contains(x.stderr.String(), "agenttrust: stopped") {
		t.Errorf("no clean stop in the log:\n%s", x.stderr.String())
	}
	x.start()
	if strings.Contains(x.stderr.String(), "first start") || strings.Contains(x.stderr.String(), "atk_") {
		t.Errorf("the second start bootstrapped again:\n%s", x.stderr.String())
	}

	// The audit chain is intact and holds every decision and every
	// operator action, each of these naming the admin or approver key
	// that made it (the bootstrap key, made by the server, names nobody).
	x.verify(as, x.decisions+x.ops)
	recs := lines(x.ok(as, "audit", "query", "--json", "--limit", "0"))
	var decisions, ops, named int
	for _, line := range recs {
		var r struct {
			Tool         string `json:"tool"`
			CredentialID string `json:"credential_id"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit query line %q: %v", line, err)
		}
		if !strings.HasPrefix(r.Tool, "agenttrust.") {
			decisions++
			continue
		}
		ops++
		if strings.HasPrefix(r.CredentialID, "key_") {
			named++
		}
	}
	if decisions != x.decisions || ops != x.ops || named != x.ops-1 {
		t.Errorf("audit query: %d decisions, %d operator records (%d naming a key), want %d, %d (%d)", decisions, ops, named, x.decisions, x.ops, x.ops-1)
	}
	// Keys, revocations and policy are intact.
	var keys []keyView
	x.okJSON(as, &keys, "key", "list", "--json")
	states := map[string]bool{}
	for _, k := range keys {
		if k.ID != budgetKeyID { // the budgeted key, billing-bot's too
			states[k.AgentID] = k.Revoked
		}
	}
	if len(keys) != 4 || !states["billing-bot"] || states["alice"] || states["admin"] {
		t.Errorf("keys after restart: %+v", keys)
	}
	var blocks []blockView
	x.okJSON(as, &blocks, "blocks", "--json")
	ids := map[string]bool{}
	for _, b := range blocks {
		ids[b.ID] = true
	}
	if !ids["sess-evil"] || !ids[agentKeyID] {
		t.Errorf("revocations after restart: %+v", blocks)
	}
	var pol struct {
		Version int64  `json:"version"`
		Body    string `json:"body"`
	}
	x.okJSON(approver, &pol, "policy", "show", "--json")
	if pol.Version != 1 || pol.Body != testPolicy {
		t.Errorf("policy after restart: version %d, body %q", pol.Version, pol.Body)
	}
	// The revoked token stays denied; the approver's key still works, and
	// the chain goes on where it stopped.
	x.check(as, exitDenied, "deny", "--credential", narrowed, "--tool", "payments.charge", "--attr", "amount=1")
	x.ok(approver, "approvals", "list")
	if n := len(lines(x.ok(as, "audit", "tail", "-n", "3", "--json"))); n != 3 {
		t.Errorf("audit tail -n 3: %d records", n)
	}

	// audit tail --follow sees a new decision as it is recorded; a
	// follower does not hold up the server's shutdown, learns of it, and
	// goes on where it stopped once the server is back: the decisions
	// made while it was away come, and none twice.
	follow := x.background(as, "audit", "tail", "-n", "0", "--follow", "--json")
	d = x.check(as, exitOK, "allow", "--agent", "billing-bot", "--tool", "payments.charge", "--attr", "amount=3")
	follow.waitFor(t, d.DecisionID)
	begin := time.Now()
	x.stop()
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("shutdown with an audit follower took %v", took)
	}
	follow.waitForErr(t, "ended the stream; reconnecting")
	x.start()
	d2 := x.check(as, exitOK, "allow", "--agent", "billing-bot", "--tool", "payments.charge", "--attr", "amount=4")
	follow.waitFor(t, d2.DecisionID)
	if n := strings.Count(follow.stdout.String(), d.DecisionID); n != 1 {
		t.Errorf("after reconnecting, the follower printed the decision before the restart %d times", n)
	}
	// Interrupted, a follower exits 0.
	follow.cmd.Process.Signal(os.Interrupt)
	if code := follow.wait(t); code != exitOK {
		t.Errorf("audit tail --follow interrupted: exit %d, %s", code, follow.stderr.String())
	}
	x.verify(as, x.decisions+x.ops)
	x.stop()
	t.Logf("%d decisions and %d operator actions made and audited", x.decisions, x.ops)
}

// bg is a command running in the background.
type bg struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan int
}

func (x *e2e) background(vars map[string]string, args ...string) *bg {
	x.t.Helper()
	b := &bg{cmd: exec.Command(x.bin, args...), stdout: new(syncBuffer), stderr: new(syncBuffer), done: make(chan int, 1)}
	all := map[string]string{"AGENTTRUST_SERVER": x.url}
	for k, v := range vars {
		all[k] = v
	}
	b.cmd.Env = cleanEnv(all)
	b.cmd.Stdout, b.cmd.Stderr = b.stdout, b.stderr
	if err := b.cmd.Start(); err != nil {
		x.t.Fatal(err)
	}
	go func() {
		err := b.cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		b.done <- code
	}()
	x.t.Cleanup(func() { b.cmd.Process.Kill() })
	return b
}

// waitFor waits until the command's stdout holds s.
func (b *bg) waitFor(t *testing.T, s string) {
	t.Helper()
	b.waitIn(t, b.stdout, s)
}

// waitForErr waits until the command's stderr holds s.
func (b *bg) waitForErr(t *testing.T, s string) {
	t.Helper()
	b.waitIn(t, b.stderr, s)
}

func (b *bg) waitIn(t *testing.T, out *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%v: %q never came; stdout %s stderr %s", b.cmd.Args, s, b.stdout.String(), b.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bg) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-b.done:
		b.done <- code
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("%v did not end", b.cmd.Args)
	}
	return -1
}

// start runs "serve" on a free loopback port, or on the port of the
// last start, and waits until it listens.
func (x *e2e) start() {
	t := x.t
	t.Helper()
	listen := "127.0.0.1:0"
	if x.url != "" {
		listen = strings.TrimPrefix(x.url, "http://")
	}
	x.proc = exec.Command(x.bin, "serve", "--data", x.db, "--listen", listen, "--node", "e2e", "--shutdown-timeout", "10s",
		"--issuer", "https://agenttrust.example", "--audience", "https://mail.example")
	x.proc.Env = cleanEnv(nil)
	x.stderr = new(syncBuffer)
	pipe, err := x.proc.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := x.proc.Start(); err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		io.Copy(x.stderr, pipe)
		close(copied)
	}()
	proc, exited, done := x.proc, make(chan error, 1), make(chan struct{})
	x.exited = exited
	go func() {
		<-copied
		exited <- proc.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			proc.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := urlRe.FindStringSubmatch(x.stderr.String()); m != nil {
			x.url = m[1]
			return
		}
		select {
		case err := <-x.exited:
			t.Fatalf("serve exited: %v\n%s", err, x.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start:\n%s", x.stderr.String())
}

// stop sends SIGTERM and waits for a clean exit.
func (x *e2e) stop() {
	t := x.t
	t.Helper()
	if err := x.proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-x.exited:
		if err != nil {
			t.Fatalf("serve exited with %v:\n%s", err, x.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM:\n%s", x.stderr.String())
	}
}

// adminKey reads the admin key the first start printed.
func (x *e2e) adminKey() string {
	m := keyRe.FindStringSubmatch(x.stderr.String())
	if m == nil {
		x.t.Fatalf("no admin key printed:\n%s", x.stderr.String())
	}
	return m[1]
}

// cleanEnv is the process's environment without AGENTTRUST_*, plus vars.
func cleanEnv(vars map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTTRUST_") {
			env = append(env, kv)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// cli runs the binary against the server with vars in its environment.
func (x *e2e) cli(vars map[string]string, args ...string) cliResult {
	x.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, x.bin, args...)
	all := map[string]string{"AGENTTRUST_SERVER": x.url}
	for k, v := range vars {
		all[k] = v
	}
	cmd.Env = cleanEnv(all)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		x.t.Fatalf("%v: %v", args, err)
	}
	return cliResult{stdout.String(), stderr.String(), code}
}

// ok runs a command that must succeed and returns its stdout.
func (x *e2e) ok(vars map[string]string, args ...string) string {
	x.t.Helper()
	r := x.cli(vars, args...)
	if r.code != exitOK {
		x.t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (x *e2e) okJSON(vars map[string]string, v any, args ...string) {
	x.t.Helper()
	out := x.ok(vars, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		x.t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

func (x *e2e) createKey(vars map[string]string, args ...string) (secret, id string) {
	x.t.Helper()
	var created struct {
		Secret string  `json:"secret"`
		Key    keyView `json:"key"`
	}
	x.okJSON(vars, &created, append([]string{"key", "create", "--json"}, args...)...)
	x.ops++
	if !strings.HasPrefix(created.Secret, "atk_") || !strings.HasPrefix(created.Key.ID, "key_") {
		x.t.Fatalf("key create: %+v", created)
	}
	return created.Secret, created.Key.ID
}

// check runs "check --json" and wants the exit code and effect.
func (x *e2e) check(vars map[string]string, code int, effect string, args ...string) checkView {
	x.t.Helper()
	r := x.cli(vars, append([]string{"check", "--json"}, args...)...)
	var d checkView
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		x.t.Fatalf("check %v: exit %d, %v\nstdout: %s\nstderr: %s", args, r.code, err, r.stdout, r.stderr)
	}
	if r.code != code || d.Effect != effect {
		x.t.Errorf("check %v: exit %d effect %s, want %d %s (%+v) %s", args, r.code, d.Effect, code, effect, d, r.stderr)
	}
	if d.DecisionID != "" {
		x.decisions++
	}
	return d
}

// verify runs "audit verify" and wants one intact chain, with records
// records unless records < 0.
func (x *e2e) verify(vars map[string]string, records int) {
	x.t.Helper()
	var rep struct {
		OK     bool `json:"ok"`
		Chains []struct {
			Chain   string `json:"chain"`
			OK      bool   `json:"ok"`
			Records int    `json:"records"`
			LastSeq uint64 `json:"last_seq"`
		} `json:"chains"`
	}
	x.okJSON(vars, &rep, "audit", "verify", "--json")
	if !rep.OK || len(rep.Chains) != 1 || rep.Chains[0].Chain != "e2e/system" {
		x.t.Fatalf("audit verify: %+v", rep)
	}
	if c := rep.Chains[0]; records >= 0 && (c.Records != records || c.LastSeq != uint64(records)) {
		x.t.Errorf("audit verify: %d records up to seq %d, want %d", c.Records, c.LastSeq, records)
	}
	if out := x.ok(vars, "audit", "verify"); !strings.Contains(out, "audit trail OK") {
		x.t.Errorf("audit verify table: %s", out)
	}
}

// http sends a request as curl would, with a JSON body, and decodes the
// JSON answer into out.
func (x *e2e) http(method, path, bearer, body string, status int, out any) {
	x.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, x.url+path, rd)
	if err != nil {
		x.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(bufio.NewReader(resp.Body))
	if resp.StatusCode != status {
		x.t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, resp.StatusCode, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			x.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}
