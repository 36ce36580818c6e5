// What holds without a server: the package's footprint, the wire format,
// and the refusals the client makes before sending anything.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AgentTrustClient, AgentTrustError, type FetchLike } from "../src/index.js";
import { allowBody } from "./fakes.js";
import { parse } from "../src/decode.js";

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

test("package.json declares no runtime dependency", () => {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as Record<string, unknown>;
  for (const k of ["dependencies", "peerDependencies", "optionalDependencies", "bundleDependencies", "bundledDependencies"]) {
    assert.equal(pkg[k], undefined, `package.json has ${k}`);
  }
  assert.equal(pkg["type"], "module");
});

test("the built package imports nothing but its own modules (no node:, no packages): it runs on fetch alone", () => {
  const dir = join(pkgDir, "dist", "src");
  const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith(".js"));
  assert.ok(files.includes("index.js") && files.includes("client.js"), `built files: ${files.join(", ")}`);
  for (const f of files) {
    // The code, without its comments (which may name what it avoids).
    const src = readFileSync(join(dir, f), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    const specs = [...src.matchAll(/(?:^|\s)(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|require\(/gm)].map((m) => m[1] ?? m[2] ?? "require(");
    for (const s of specs) assert.ok(s.startsWith("./"), `${f} imports ${s}`);
    assert.doesNotMatch(src, /\bprocess\.|\bBuffer\b|AsyncLocalStorage/, `${f} uses a Node-only global`);
  }
});

/** A fetch that records what it is asked and answers a valid allow. */
function recorder(): { fetch: FetchLike; calls: { url: string; init: RequestInit }[] } {
  const calls: { url: string; init: RequestInit }[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      calls.push({ url, init });
      return new Response(JSON.stringify(allowBody), { status: 200, headers: { "Content-Type": "application/json" } });
    },
  };
}

test("the wire: snake_case members, none undefined, the credential as a Bearer header, no redirects followed", async () => {
  const r = recorder();
  const c = new AgentTrustClient({ baseUrl: "http://127.0.0.1:8480/prefix/", apiKey: "atk_k", fetch: r.fetch });
  await c.actions.check({ agentId: "agent-1", toolName: "email.send", sessionId: "s", onBehalfOf: "alice", resource: "r", attributes: { n: 1, tags: ["a"] }, credential: "att_x" });
  await c.actions.check({ toolName: "docs.read", resource: undefined });
  assert.equal(r.calls[0]!.url, "http://127.0.0.1:8480/prefix/v1/actions/check");
  assert.deepEqual(JSON.parse(String(r.calls[0]!.init.body)), {
    tool_name: "email.send", agent_id: "agent-1", resource: "r", session_id: "s", on_behalf_of: "alice", attributes: { n: 1, tags: ["a"] }, credential: "att_x",
  });
  assert.equal(r.calls[1]!.init.body, '{"tool_name":"docs.read"}');
  const h = r.calls[0]!.init.headers as Record<string, string>;
  assert.equal(h["Authorization"], "Bearer atk_k");
  assert.equal(h["Content-Type"], "application/json");
  assert.equal(r.calls[0]!.init.redirect, "manual");
  assert.equal(r.calls[0]!.init.credentials, "omit");
});

test("ids are one escaped path segment", async () => {
  const calls: string[] = [];
  const c = new AgentTrustClient({
    baseUrl: "http://localhost:1", apiKey: "atk_k",
    fetch: async (url) => (calls.push(url), new Response(null, { status: 204 })),
  });
  await c.agents.suspend("../keys/x?y");
  assert.equal(calls[0], "http://localhost:1/v1/agents/..%2Fkeys%2Fx%3Fy/suspend");
});

test("attributes JSON cannot carry faithfully are refused before sending", async () => {
  const r = recorder();
  const c = new AgentTrustClient({ baseUrl: "http://127.0.0.1:1", apiKey: "atk_k", fetch: r.fetch });
  class Money { amount = 5; }
  const bad: [string, unknown][] = [
    ["NaN", { amount: NaN }],
    ["Infinity", { amount: Infinity }],
    ["-Infinity nested", { a: [1, { b: -Infinity }] }],
    ["undefined", { amount: undefined }],
    ["a function", { f: () => 1 }],
    ["a bigint", { n: 10n }],
    ["a symbol", { s: Symbol("x") }],
    ["a Date", { when: new Date(0) }],
    ["a class instance", { m: new Money() }],
    ["a Map", { m: new Map() }],
    ["an array, not an object", [1, 2]],
    ["null, not an object", null],
  ];
  for (const [name, attributes] of bad) {
    await assert.rejects(c.actions.check({ toolName: "payments.charge", attributes: attributes as never }), (e) => e instanceof AgentTrustError && e.code === "invalid_request", name);
  }
  await assert.rejects(c.actions.check({ toolName: "" }), (e) => e instanceof AgentTrustError && e.code === "invalid_request");
  await assert.rejects(c.actions.check({ toolName: 5 as never }), (e) => e instanceof AgentTrustError && e.code === "invalid_request");
  await assert.rejects(c.actions.check({ toolName: "x", agentId: 5 as never }), (e) => e instanceof AgentTrustError && e.code === "invalid_request");
  assert.equal(r.calls.length, 0);
  // The control: plain JSON goes through.
  await c.actions.check({ toolName: "payments.charge", attributes: { amount: 5, nested: { ok: [true, null, "s"] } } });
  assert.equal(r.calls.length, 1);
});

test("configuration is validated: plain http only to loopback, a sane credential, sane numbers", () => {
  const ok = { baseUrl: "https://at.example", apiKey: "atk_k" };
  new AgentTrustClient(ok);
  new AgentTrustClient({ ...ok, baseUrl: "http://localhost:8480" });
  new AgentTrustClient({ ...ok, baseUrl: "http://[::1]:8480" });
  new AgentTrustClient({ ...ok, baseUrl: "http://10.0.0.1", allowInsecureHttp: true });
  const bad: [string, Record<string, unknown>][] = [
    ["plain http to a remote host", { baseUrl: "http://at.example" }],
    ["not a URL", { baseUrl: "nope" }],
    ["ftp", { baseUrl: "ftp://at.example" }],
    ["a query", { baseUrl: "https://at.example/?x=1" }],
    ["user info", { baseUrl: "https://u:p@at.example" }],
    ["an empty key", { apiKey: "" }],
    ["a key with a line break", { apiKey: "atk_k\r\nX-Evil: 1" }],
    ["a key with a space", { apiKey: "atk k" }],
    ["a zero timeout", { timeoutMs: 0 }],
    ["a NaN timeout", { timeoutMs: NaN }],
    ["negative retries", { retries: -1 }],
    ["too many retries", { retries: 11 }],
    ["backoff max below first", { backoffMs: { first: 10, max: 1 } }],
  ];
  for (const [name, patch] of bad) {
    assert.throws(() => new AgentTrustClient({ ...ok, ...patch } as never), (e) => e instanceof AgentTrustError && e.code === "invalid_config", name);
  }
});

test("the drift check passes on the checked-in types and fails once the spec changes", () => {
  const drift = join(pkgDir, "scripts", "drift.mjs");
  const ok = spawnSync(process.execPath, [drift], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  const dir = mkdtempSync(join(tmpdir(), "agenttrust-drift-test-"));
  try {
    const spec = readFileSync(join(pkgDir, "..", "..", "api", "openapi.yaml"), "utf8");
    const changed = spec.replace("        rule_id: {type: string}\n        decision_id:", "        rule_id: {type: integer}\n        decision_id:");
    assert.notEqual(changed, spec, "the spec's CheckResponse.rule_id was not found");
    writeFileSync(join(dir, "openapi.yaml"), changed);
    const bad = spawnSync(process.execPath, [drift, join(dir, "openapi.yaml")], { encoding: "utf8" });
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /drifted from api\/openapi.yaml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the package resolves by its name through its exports map", async () => {
  const name = "@agenttrust/client";
  const m = (await import(name)) as Record<string, unknown>;
  for (const k of ["AgentTrustClient", "guard", "guardTool", "authorize", "AgentTrustError", "AuthError", "TransportError", "DeniedError", "ApprovalRequiredError"]) {
    assert.equal(typeof m[k], "function", k);
  }
  assert.deepEqual(Object.keys(m).sort(), ["AgentTrustClient", "AgentTrustError", "ApprovalRequiredError", "AuthError", "DeniedError", "TransportError", "authorize", "guard", "guardTool"]);
});

test("the answer parser reads what JSON.parse reads, numbers aside, and refuses what it refuses", () => {
  const seeds = [
    JSON.stringify(allowBody), '{"__proto__":{"allowed":true},"a":1}', '{"a":1,"a":2,"b":[]}', '{"2":"x","1":"y","b":{}}',
    '[1,-0,0.5,1e2,1E-2,-12.25e+1,true,false,null,"\\u00e9\\n\\"\\\\"]', ' {\t"x" :\r\n[ ] } ', '"\\ud800"', "0", "-1.5e3",
    "", " ", "{", "[1,]", '{"a":1,}', "01", "1.", ".5", "-", "+1", "1e", "NaN", "Infinity", "tru", "nul", '"\\x"', '"a\nb"',
    "\ufeff{}", "{} {}", "[1 2]", '{"a" 1}', "{a:1}", "'a'", "[\"\\", '"\\u12"', "[-]", "1e+", "--1",
  ];
  let seed = 1;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const chars = '{}[],:"\\ 0123456789.eE+-truefalsnl\u00e9';
  const texts = [...seeds];
  for (let round = 0; round < 4000; round++) {
    const t = seeds[rand(seeds.length)]!;
    const at = rand(t.length + 1);
    const c = chars[rand(chars.length)]!;
    const op = rand(3);
    texts.push(op === 0 ? t.slice(0, at) + c + t.slice(at) : op === 1 ? t.slice(0, at) + t.slice(at + 1) : t.slice(0, at) + c + t.slice(at + 1));
  }
  const hasBigint = (v: unknown): boolean =>
    typeof v === "bigint" || (typeof v === "object" && v !== null && Object.values(v).some(hasBigint));
  let compared = 0;
  let duplicates = 0;
  for (const t of texts) {
    let want: unknown;
    let wantErr = false;
    try {
      want = JSON.parse(t);
    } catch {
      wantErr = true;
    }
    let got: unknown;
    let gotErr = false;
    let dup = false;
    try {
      got = parse(t);
    } catch (e) {
      assert.ok(e instanceof SyntaxError, `${JSON.stringify(t)}: ${String(e)}`);
      gotErr = true;
      dup = e.message.startsWith("duplicate member ");
    }
    // parse refuses an object that repeats a member, which JSON.parse reads.
    if (dup && !wantErr) {
      duplicates++;
      continue;
    }
    assert.equal(gotErr, wantErr, `${JSON.stringify(t)}: JSON.parse ${wantErr ? "refuses" : "reads"} it`);
    if (!gotErr && !hasBigint(got)) {
      assert.deepEqual(got, want, JSON.stringify(t));
      compared++;
    }
  }
  assert.ok(compared > 500, `only ${compared} texts compared`);
  assert.ok(duplicates > 0, "no text with a repeated member");
  for (const t of ['{"a":1,"a":1}', '{"allowed":false,"x":{},"allowed":true}', '{"__proto__":1,"__proto__":2}', '[{"b":[{"c":1,"c":2}]}]']) {
    assert.throws(() => parse(t), /^SyntaxError: duplicate member /, t);
  }
  assert.deepEqual(parse('{"a":{"a":1},"A":2,"b":{"a":3}}'), { a: { a: 1 }, A: 2, b: { a: 3 } });
  assert.deepEqual(parse("[9007199254740993, 1e2, 0.1]"), [9007199254740993n, 100, 0.1]);
  assert.throws(() => parse("[".repeat(2000) + "]".repeat(2000)), SyntaxError);
});
