// The client against a real `agenttrust serve`: every operation it
// offers, with the server's own answers.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  AgentTrustClient,
  AgentTrustError,
  ApprovalRequiredError,
  AuthError,
  DeniedError,
  TransportError,
  authorize,
  guard,
  type Decision,
} from "../src/index.js";
import { guardTool } from "../src/ai.js";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { repoRoot, startServer, type Server } from "./server.js";

let srv: Server;
let admin: AgentTrustClient;

before(async () => {
  srv = await startServer();
  admin = new AgentTrustClient({ baseUrl: srv.url, apiKey: srv.adminKey, timeoutMs: 10_000 });
});

after(async () => {
  await srv?.stop();
});

async function agentClient(agentId: string): Promise<AgentTrustClient> {
  const k = await admin.keys.create({ agentId, name: "ts-test" });
  assert.match(k.secret, /^atk_/);
  assert.equal(k.key.agentId, agentId);
  assert.deepEqual(k.key.roles, ["agent"]);
  return new AgentTrustClient({ baseUrl: srv.url, apiKey: k.secret });
}

test("the seed's call: check, then act only when allowed", async () => {
  // The AgentTrust ID write-up's integration, as TypeScript.
  const client = new AgentTrustClient({ baseUrl: srv.url, apiKey: srv.adminKey });
  let sent = 0;
  const sendEmail = () => sent++;
  const decision = await client.actions.check({ agentId: "agent-123", toolName: "email.send", sessionId: "session-abc" });
  if (!decision.allowed) throw new Error(decision.reason);
  sendEmail();
  assert.equal(sent, 1);
  assert.equal(decision.effect, "allow");
  assert.equal(decision.ruleId, "read");
  assert.equal(decision.agentId, "agent-123");
  assert.match(decision.decisionId, /^[0-9a-f-]{36}$/);

  const no = await client.actions.check({ agentId: "agent-123", toolName: "email.delete", sessionId: "session-abc" });
  assert.equal(no.allowed, false);
  assert.equal(no.effect, "deny");
  assert.equal(no.ruleId, "no-delete");
  assert.equal(no.reason, "deletes are never allowed");
});

test("an agent's own key: allow, deny, needs approval with attributes", async () => {
  const bot = await agentClient("billing-bot");
  const small = await bot.actions.check({ toolName: "payments.charge", resource: "cust-1", attributes: { amount: 40 } });
  assert.deepEqual([small.allowed, small.effect, small.ruleId, small.agentId], [true, "allow", "small-charges", "billing-bot"]);
  const big = await bot.actions.check({ toolName: "payments.charge", resource: "cust-1", attributes: { amount: 90 } });
  assert.deepEqual([big.allowed, big.effect, big.ruleId], [false, "needs_approval", "big-charges"]);
  assert.match(big.approvalId, /^apr_/);
  const unknown = await bot.actions.check({ toolName: "shell.exec" });
  assert.equal(unknown.allowed, false);
  assert.equal(unknown.effect, "deny");
  // An agent may check only its own actions: 403, typed.
  await assert.rejects(bot.actions.check({ agentId: "other-bot", toolName: "docs.read" }), (e) => e instanceof AuthError && e.status === 403 && e.code === "forbidden");
});

test("approvals: list, wait while a human approves, the grant allows once; deny", async () => {
  const bot = await agentClient("pay-bot");
  const held = await bot.actions.check({ toolName: "payments.charge", resource: "cust-2", attributes: { amount: 500 } });
  assert.equal(held.effect, "needs_approval");
  const id = held.approvalId;

  const pending = await bot.approvals.list({ status: "pending" });
  assert.ok(pending.some((a) => a.id === id && a.toolName === "payments.charge" && a.agentId === "pay-bot"));
  // The agent cannot approve its own request.
  await assert.rejects(bot.approvals.approve(id), (e) => e instanceof AuthError && e.status === 403);

  const waited = bot.approvals.wait(id, { timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 200));
  const approved = await admin.approvals.approve(id, { note: "ok" });
  assert.equal(approved.status, "approved");
  assert.equal(approved.note, "ok");
  const seen = await waited;
  assert.equal(seen.id, id);
  assert.equal(seen.status, "approved");

  const again = await bot.actions.check({ toolName: "payments.charge", resource: "cust-2", attributes: { amount: 500 } });
  assert.equal(again.allowed, true, again.reason);
  assert.equal((await bot.approvals.get(id)).status, "consumed");

  const held2 = await bot.actions.check({ toolName: "payments.charge", resource: "cust-3", attributes: { amount: 700 } });
  const refused = await admin.approvals.deny(held2.approvalId, { note: "no" });
  assert.equal(refused.status, "denied");
  assert.equal((await bot.approvals.wait(held2.approvalId, { timeoutMs: 5_000 })).status, "denied");

  // A wait that outlasts its timeout rejects, typed.
  const held3 = await bot.actions.check({ toolName: "payments.charge", resource: "cust-4", attributes: { amount: 800 } });
  await assert.rejects(bot.approvals.wait(held3.approvalId, { timeoutMs: 300 }), (e) => e instanceof AgentTrustError && e.code === "approval_timeout");
  // And one aborted by its signal.
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(bot.approvals.wait(held3.approvalId, { signal: ac.signal }), (e) => e instanceof TransportError && e.code === "aborted");
  await assert.rejects(bot.approvals.get("apr_doesnotexist"), (e) => e instanceof AgentTrustError && e.status === 404 && e.code === "not_found");
});

test("fails closed: an approver is shown the exact number the grant binds", async () => {
  const bot = await admin.keys.create({ agentId: "exact-bot" });
  // A check as a Python or Go agent sends it: each number's exact text.
  const check = async (text: string) => {
    const res = await fetch(`${srv.url}/v1/actions/check`, {
      method: "POST",
      headers: { Authorization: `Bearer ${bot.secret}`, "Content-Type": "application/json" },
      body: `{"tool_name":"payments.charge","resource":"acct","attributes":{"amount":${text}}}`,
    });
    assert.equal(res.status, 200);
    return (await res.json()) as { effect: string; approval_id: string };
  };
  for (const [text, want] of [["9007199254740993", 9007199254740993n], ["100.00000000000000001", "100.00000000000000001"], ["51", 51]] as const) {
    const held = await check(text);
    assert.equal(held.effect, "needs_approval", text);
    const shown = (await admin.approvals.get(held.approval_id)).attributes["amount"];
    assert.deepEqual(shown, want, `the approver was shown ${String(shown)} for ${text}`);
    assert.deepEqual((await admin.approvals.list({ agentId: "exact-bot", status: "pending" })).map((a) => a.attributes["amount"]), [want]);
    assert.deepEqual((await admin.approvals.approve(held.approval_id)).attributes["amount"], want);
    // The grant allows the request with exactly that text.
    assert.equal((await check(text)).effect, "allow", text);
  }
});

test("guard: runs the function on allow only; typed errors otherwise; waits for approval when asked", async () => {
  const bot = await agentClient("guard-bot");
  const ran: string[] = [];
  const charge = guard(bot, "payments.charge", async (customer: string, amount: number) => {
    ran.push(`${customer}:${amount}`);
    return `charged ${amount}`;
  }, { resource: (customer) => customer, attributes: (_c, amount) => ({ amount }) });
  assert.equal(await charge("cust-1", 10), "charged 10");

  await assert.rejects(charge("cust-1", 99), (e) => e instanceof ApprovalRequiredError && e.approvalId.startsWith("apr_") && e.decision.effect === "needs_approval");
  const del = guard(bot, "docs.delete", () => ran.push("deleted"));
  await assert.rejects(del(), (e) => e instanceof DeniedError && e.decision.ruleId === "no-delete" && e.message === "agenttrust: deletes are never allowed");
  assert.deepEqual(ran, ["cust-1:10"]);

  // With waitForApproval, a human's grant lets the call through.
  const patient = guard(bot, "payments.charge", (amount: number) => `charged ${amount}`, {
    attributes: (amount) => ({ amount }), waitForApproval: { timeoutMs: 20_000 },
  });
  const call = patient(75);
  let id = "";
  for (let i = 0; i < 100 && !id; i++) {
    const p = await admin.approvals.list({ status: "pending", agentId: "guard-bot" });
    id = p.find((a) => a.attributes["amount"] === 75)?.id ?? "";
    if (!id) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(id, "the guarded call's approval is pending");
  await admin.approvals.approve(id);
  assert.equal(await call, "charged 75");

  // An admin's guard names the agent through the explicit context.
  const read = guard(admin, "docs.read", (doc: string) => `read ${doc}`, { context: { agentId: "reader", sessionId: "s-1" }, resource: (doc) => doc });
  assert.equal(await read("doc-1"), "read doc-1");
});

// The server judges a resource in Unicode NFC, while a guarded function
// opens the text it was given. A rule allows exactly "docs/caf\u00e9.txt";
// "docs/cafe\u0301.txt" (NFD) is judged as that file and opened as
// another, on a file system that tells the two apart. authorize (and so
// guard and guardTool) refuses it before any check; the NFC spelling runs
// as before.
const nfcFile = "docs/caf\u00e9.txt", nfdFile = "docs/cafe\u0301.txt";
const resourceFormCases: [string, (opened: string[]) => (path: string) => Promise<unknown>][] = [
  ["guard", (opened) => guard(admin, "files.read", async (path: string) => { opened.push(path); }, { context: { agentId: "reader" }, resource: (path) => path })],
  ["guardTool", (opened) => {
    const tool = guardTool(admin, "files.read", { execute: async (input: { path: string }) => { opened.push(input.path); } },
      { context: { agentId: "reader" }, resource: (input) => input.path });
    return (path) => (tool.execute as (input: { path: string }, options: unknown) => Promise<unknown>)({ path }, { toolCallId: "c1" });
  }],
  ["authorize", (opened) => async (path) => {
    await authorize(admin, { agentId: "reader", toolName: "files.read", resource: path });
    opened.push(path);
  }],
];
for (const [name, make] of resourceFormCases) {
  test(`attack: ${name} refuses a resource not in NFC, never checked as one file and opened as another`, async () => {
    const opened: string[] = [];
    const call = make(opened);
    await assert.rejects(call(nfdFile), (e) => e instanceof AgentTrustError && e.code === "invalid_request" && /NFC/.test(e.message));
    assert.deepEqual(opened, [], "ran on a resource the check judged in another form");
    await call(nfcFile);
    assert.deepEqual(opened, [nfcFile], "the NFC spelling runs");
  });
}

test("tokens: exchange, inspect, delegate narrower, revoke", async () => {
  const bot = await agentClient("token-bot");
  const tok = await bot.tokens.exchange();
  assert.match(tok.token, /^att_/);
  assert.equal(tok.format, "macaroon");
  const info = await bot.tokens.inspect(tok.token);
  assert.equal(info.id, tok.tokenId);
  assert.equal(info.agentId, "token-bot");

  const viaToken = new AgentTrustClient({ baseUrl: srv.url, apiKey: tok.token });
  const del = await viaToken.tokens.delegate({ ttlSeconds: 600, caveats: ["tool = docs.read"] });
  assert.match(del.token, /^att_/);
  assert.equal(del.hop.agentId, "token-bot");
  assert.ok(del.hop.caveats.includes("tool = docs.read"), String(del.hop.caveats));
  assert.match(del.hop.id, /^hop_/);
  const narrow = new AgentTrustClient({ baseUrl: srv.url, apiKey: del.token });
  assert.equal((await narrow.actions.check({ toolName: "docs.read" })).allowed, true);
  const outside = await narrow.actions.check({ toolName: "email.send" });
  assert.equal(outside.allowed, false);

  // An admin checks a presented credential.
  assert.equal((await admin.actions.check({ toolName: "docs.read", credential: del.token })).allowed, true);

  await admin.revoke(del.hop.id);
  await assert.rejects(narrow.actions.check({ toolName: "docs.read" }), (e) => e instanceof AuthError && e.status === 401 && e.code === "revoked");
  const d: Decision = await admin.actions.check({ toolName: "docs.read", credential: del.token });
  assert.equal(d.allowed, false);
  assert.equal(d.error, "revoked");
  // The parent token still works.
  assert.equal((await viaToken.actions.check({ toolName: "docs.read" })).allowed, true);

  const jwt = await bot.tokens.exchange({ format: "jwt", audience: "http://127.0.0.1", caveats: ["tool = docs.read"] });
  assert.equal(jwt.format, "jwt");
  assert.equal(jwt.token.split(".").length, 3);
});

test("the kill switch: suspend and resume an agent; revoke a key", async () => {
  const bot = await agentClient("kill-bot");
  assert.equal((await bot.actions.check({ toolName: "docs.read" })).allowed, true);
  await admin.agents.suspend("kill-bot", { reason: "misbehaving" });
  await assert.rejects(bot.actions.check({ toolName: "docs.read" }), (e) => e instanceof AuthError && e.code === "suspended");
  const asAdmin = await admin.actions.check({ agentId: "kill-bot", toolName: "docs.read" });
  assert.equal(asAdmin.allowed, false);
  await admin.agents.resume("kill-bot");
  assert.equal((await bot.actions.check({ toolName: "docs.read" })).allowed, true);
  await assert.rejects(admin.agents.resume("kill-bot"), (e) => e instanceof AgentTrustError && e.status === 404);

  const me = await bot.whoami();
  assert.equal(me.agentId, "kill-bot");
  const keys = await admin.keys.list();
  assert.ok(keys.some((k) => k.id === me.keyId));
  await admin.keys.revoke(me.keyId);
  await assert.rejects(bot.actions.check({ toolName: "docs.read" }), (e) => e instanceof AuthError && e.status === 401);
});

test("refusals are typed: a bad key, a missing agent, an agent doing admin work", async () => {
  const nobody = new AgentTrustClient({ baseUrl: srv.url, apiKey: "atk_notakey" });
  await assert.rejects(nobody.actions.check({ toolName: "docs.read" }), (e) => e instanceof AuthError && e.status === 401);
  await assert.rejects(admin.actions.check({ toolName: "docs.read" }), (e) => e instanceof AgentTrustError && !(e instanceof AuthError) && e.status === 400 && e.code === "missing_field");
  const bot = await agentClient("small-bot");
  await assert.rejects(bot.revoke("small-bot"), (e) => e instanceof AuthError && e.status === 403);
  await assert.rejects(bot.agents.suspend("small-bot"), (e) => e instanceof AuthError && e.status === 403);
});

test("the README's TypeScript snippet compiles under tsc --strict and runs as written against the server", async () => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const block = /```ts\n(import [^\n]*"@agenttrust\/client";\n[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, "no ts block importing @agenttrust/client in README.md");
  // Inside the package, "@agenttrust/client" resolves to this build
  // through the package's exports, as it would for an installed package.
  const pkgDir = join(repoRoot, "clients", "typescript");
  const dir = mkdtempSync(join(pkgDir, ".readme-"));
  try {
    const run = (name: string, snippet: string, key: string) => {
      writeFileSync(join(dir, `${name}.ts`), snippet);
      const tsc = spawnSync(process.execPath, [
        join(pkgDir, "node_modules", "typescript", "bin", "tsc"), "--strict", "--target", "ES2022", "--module", "NodeNext",
        "--moduleResolution", "NodeNext", "--types", "node", "--skipLibCheck", "--rootDir", dir, "--outDir", dir, join(dir, `${name}.ts`),
      ], { encoding: "utf8", cwd: pkgDir });
      assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
      return spawnSync(process.execPath, [join(dir, `${name}.js`)], {
        encoding: "utf8", env: { ...process.env, AGENTTRUST_SERVER: srv.url, AGENTTRUST_KEY: key }, timeout: 30_000,
      });
    };
    const ok = run("snippet", block, srv.adminKey);
    assert.equal(ok.status, 0, ok.stderr);
    // The same snippet on a tool the policy denies stops at the check.
    const denied = run("denied", block.replaceAll('"email.send"', '"email.delete"'), srv.adminKey);
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /Error: deletes are never allowed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
