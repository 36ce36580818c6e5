// Fail closed: a server that is stopped, cut, slow, aborted, redirecting
// or answering garbage never yields an allowed decision, and a guarded
// function never runs. Each malformed answer is one change to a valid
// allow, which the control case shows is believed.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { AgentTrustClient, AgentTrustError, AuthError, TransportError, guard, guardTool, type Approval, type ClientOptions, type Decision } from "../src/index.js";
import { allowBody, fakeHTTP, fakeTCP, json, type Fake } from "./fakes.js";

const timeoutMs = 300;

function client(url: string, extra: Partial<ClientOptions> = {}): AgentTrustClient {
  return new AgentTrustClient({ baseUrl: url, apiKey: "atk_test", timeoutMs, backoffMs: { first: 1, max: 5 }, ...extra });
}

const check = { agentId: "agent-1", toolName: "docs.read" };

function allowWith(patch: Record<string, unknown>): Record<string, unknown> {
  return { ...allowBody, ...patch };
}

function without(key: string): Record<string, unknown> {
  const o: Record<string, unknown> = { ...allowBody };
  delete o[key];
  return o;
}

interface Case {
  name: string;
  /** The fake's answer to each request. */
  http?: (req: IncomingMessage, res: ServerResponse, fake: Fake) => void;
  /** Or raw bytes over TCP. */
  tcp?: (s: Socket) => void;
  /** Or no server at all. */
  stopped?: true;
  options?: Partial<ClientOptions>;
  /** The caller's signal, made per run. */
  signal?: () => AbortSignal;
  /** The error expected: its class and code. */
  want: { cls: typeof AgentTrustError; code: string | string[] };
  /** How many requests the fake should see per call (default 1). */
  requests?: number;
}

const malformed = { cls: TransportError, code: "malformed_response" };
const hang = () => {}; // never answers

const cases: Case[] = [
  { name: "server stopped", stopped: true, want: { cls: TransportError, code: "unreachable" } },
  { name: "connection reset before any answer", http: (req) => req.socket.destroy(), want: { cls: TransportError, code: "unreachable" } },
  {
    name: "cut mid-body (Content-Length promised more)",
    http: (_req, res) => {
      const b = JSON.stringify(allowBody);
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": b.length + 50 });
      res.write(b.slice(0, 20));
      setTimeout(() => res.socket?.destroy(), 10);
    },
    want: { cls: TransportError, code: "unreachable" },
  },
  {
    name: "cut mid-body (chunked)",
    http: (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write(JSON.stringify(allowBody).slice(0, 30));
      setTimeout(() => res.socket?.destroy(), 10);
    },
    want: { cls: TransportError, code: "unreachable" },
  },
  { name: "no answer within the timeout", http: hang, want: { cls: TransportError, code: "timeout" } },
  {
    name: "headers, then a body slower than the timeout",
    http: (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write('{"allowed":true,');
    },
    want: { cls: TransportError, code: "timeout" },
  },
  {
    name: "aborted by the caller while waiting",
    http: hang,
    signal: () => AbortSignal.timeout(50),
    options: { timeoutMs: 5_000 },
    want: { cls: TransportError, code: "aborted" },
  },
  { name: "aborted before the call", http: (_q, res) => json(res, 200, allowBody), signal: () => AbortSignal.abort(), want: { cls: TransportError, code: "aborted" }, requests: 0 },
  { name: "HTML page as text/html", http: (_q, res) => json(res, 200, "<html><body>allowed</body></html>", "text/html"), want: malformed },
  { name: "HTML labelled application/json", http: (_q, res) => json(res, 200, "<html>allowed: true</html>"), want: malformed },
  { name: "truncated JSON", http: (_q, res) => json(res, 200, JSON.stringify(allowBody).slice(0, -10)), want: malformed },
  { name: '"allowed": "true" as a string', http: (_q, res) => json(res, 200, allowWith({ allowed: "true" })), want: malformed },
  { name: '"allowed": 1 as a number', http: (_q, res) => json(res, 200, allowWith({ allowed: 1 })), want: malformed },
  { name: "allowed true with effect deny", http: (_q, res) => json(res, 200, allowWith({ effect: "deny" })), want: malformed },
  { name: "allowed true with an unknown effect", http: (_q, res) => json(res, 200, allowWith({ effect: "allow_all" })), want: malformed },
  { name: "allowed true with an error code", http: (_q, res) => json(res, 200, allowWith({ error: "store_unavailable" })), want: malformed },
  { name: "only allowed and effect, the rest missing", http: (_q, res) => json(res, 200, { allowed: true, effect: "allow" }), want: malformed },
  { name: "decision_id missing", http: (_q, res) => json(res, 200, without("decision_id")), want: malformed },
  { name: "decision_id not a UUID", http: (_q, res) => json(res, 200, allowWith({ decision_id: "yes" })), want: malformed },
  { name: "rule_id of the wrong type", http: (_q, res) => json(res, 200, allowWith({ rule_id: 7 })), want: malformed },
  { name: "staleness_ns a string", http: (_q, res) => json(res, 200, allowWith({ staleness_ns: "0" })), want: malformed },
  { name: "staleness_ns negative", http: (_q, res) => json(res, 200, allowWith({ staleness_ns: -1 })), want: malformed },
  { name: "an allow for another agent", http: (_q, res) => json(res, 200, allowWith({ agent_id: "agent-2" })), want: malformed },
  { name: "allowed hidden under __proto__", http: (_q, res) => json(res, 200, JSON.stringify(without("allowed")).replace("{", '{"__proto__":{"allowed":true},')), want: malformed },
  { name: "duplicate members: a later allowed true over effect deny", http: (_q, res) => json(res, 200, JSON.stringify(allowWith({ allowed: false, effect: "deny" })).replace("}", ',"allowed":true}')), want: malformed },
  {
    // The server never repeats a member; a body that does (a proxy or
    // cache splicing two answers) says deny and allow at once, and which
    // one a reader keeps differs between parsers: the Python client refuses it.
    name: "duplicate members: a deny, then allowed true and effect allow",
    http: (_q, res) => json(res, 200, JSON.stringify(allowWith({ allowed: false, effect: "deny", reason: "over the limit" })).replace(/}$/, ',"allowed":true,"effect":"allow"}')),
    want: malformed,
  },
  {
    name: "duplicate members: another agent's allow, then this agent's id",
    http: (_q, res) => json(res, 200, JSON.stringify(allowWith({ agent_id: "agent-2" })).replace(/}$/, ',"agent_id":"agent-1"}')),
    want: malformed,
  },
  { name: "200 with an error body", http: (_q, res) => json(res, 200, { error: { code: "internal", message: "boom" } }), want: malformed },
  { name: "a JSON array of an allow", http: (_q, res) => json(res, 200, [allowBody]), want: malformed },
  { name: "JSON null", http: (_q, res) => json(res, 200, "null"), want: malformed },
  { name: "an anti-hijacking prefix before the JSON", http: (_q, res) => json(res, 200, ")]}'\n" + JSON.stringify(allowBody)), want: malformed },
  { name: "trailing data after the JSON", http: (_q, res) => json(res, 200, JSON.stringify(allowBody) + JSON.stringify(allowBody)), want: malformed },
  { name: "a valid allow as text/plain", http: (_q, res) => json(res, 200, allowBody, "text/plain"), want: malformed },
  {
    name: "invalid UTF-8 in the body",
    http: (_q, res) => {
      const b = Buffer.concat([Buffer.from(JSON.stringify(allowWith({ reason: "x" })).replace('"x"', '"')), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": b.length });
      res.end(b);
    },
    want: malformed,
  },
  {
    name: "a huge body announced by Content-Length",
    http: (_q, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 10 << 20 });
      res.write('{"allowed":true');
    },
    want: malformed,
  },
  {
    name: "a huge body streamed without Content-Length",
    http: (_q, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write(JSON.stringify(allowWith({ reason: "" })).slice(0, -1) + ',"pad":"');
      const chunk = "a".repeat(64 << 10);
      let n = 0;
      const more = () => {
        while (n < 40 && res.write(chunk)) n++;
        if (n < 40) res.once("drain", more);
        else res.end('"}');
      };
      more();
    },
    want: malformed,
  },
  {
    name: "gzip-encoded garbage",
    http: (_q, res) => {
      const b = Buffer.concat([gzipSync(JSON.stringify(allowBody)).subarray(0, 20), Buffer.from("garbage")]);
      res.writeHead(200, { "Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": b.length });
      res.end(b);
    },
    // Whether the platform's fetch fails the stream or hands over the
    // part it could inflate, no allow comes of it.
    want: { cls: TransportError, code: ["unreachable", "malformed_response"] },
  },
  { name: "not HTTP at all", tcp: (s) => s.end("HELLO allowed=true\r\n\r\n"), want: { cls: TransportError, code: "unreachable" } },
  { name: "a redirect to the same origin", http: (_q, res) => { res.writeHead(307, { Location: "/v1/actions/check2" }); res.end(); }, want: { cls: TransportError, code: "redirect" } },
  { name: "a 500 whose body is an allow", http: (_q, res) => json(res, 500, allowBody), want: { cls: TransportError, code: "unreachable" } },
  { name: "503 on every retry", http: (_q, res) => json(res, 503, { error: { code: "store_unavailable", message: "down" } }), options: { retries: 2 }, want: { cls: TransportError, code: "store_unavailable" }, requests: 3 },
  { name: "a 201 whose body is an allow", http: (_q, res) => json(res, 201, allowBody), want: malformed },
  { name: "204 with no body", http: (_q, res) => { res.writeHead(204); res.end(); }, want: malformed },
  { name: "a 401 whose body is an allow", http: (_q, res) => json(res, 401, allowBody), want: { cls: AuthError, code: "unauthenticated" } },
  { name: "a 400 whose body is an allow", http: (_q, res) => json(res, 400, allowBody), want: { cls: AgentTrustError, code: "unexpected_status" } },
];

test("control: the fake's valid allow is believed", async () => {
  const fake = await fakeHTTP((_q, res) => json(res, 200, allowBody));
  try {
    const d = await client(fake.url).actions.check(check);
    assert.equal(d.allowed, true);
    assert.equal(d.ruleId, "read");
    let ran = 0;
    await guard(client(fake.url), "docs.read", () => ran++, { context: { agentId: "agent-1" } })();
    assert.equal(ran, 1);
  } finally {
    await fake.close();
  }
});

for (const c of cases) {
  test(`fails closed: ${c.name}`, async () => {
    let fake: Fake | undefined;
    let url: string;
    if (c.stopped) {
      const f = await fakeHTTP(hang);
      url = f.url;
      await f.close();
    } else {
      fake = c.tcp ? await fakeTCP(c.tcp) : await fakeHTTP(c.http!);
      url = fake.url;
    }
    try {
      const cl = client(url, c.options);
      const matches = (e: unknown) => {
        assert.ok(e instanceof c.want.cls, `want ${c.want.cls.name}, got ${String(e)}`);
        const codes = typeof c.want.code === "string" ? [c.want.code] : c.want.code;
        assert.ok(codes.includes((e as AgentTrustError).code), `want code ${codes.join(" or ")}, got ${String(e)}`);
        return true;
      };
      await assert.rejects(cl.actions.check(check, c.signal ? { signal: c.signal() } : {}), matches);
      if (fake) assert.equal(fake.requests, c.requests ?? 1, "requests made");

      // A guarded function and a guarded AI SDK tool never run.
      let ran = 0;
      const g = guard(cl, "docs.read", () => ran++, { context: { agentId: "agent-1" }, signal: c.signal });
      await assert.rejects(g(), matches);
      const t = guardTool(cl, "docs.read", { execute: async (_input: unknown, _o: unknown) => ran++ }, { context: { agentId: "agent-1" } });
      const opts = c.signal ? { toolCallId: "t1", messages: [], abortSignal: c.signal() } : { toolCallId: "t1", messages: [] };
      await assert.rejects(Promise.resolve(t.execute!({}, opts)), matches);
      assert.equal(ran, 0, "a guarded function ran");
    } finally {
      await fake?.close();
    }
  });
}

test("fails closed: a redirect to another origin is not followed, and the credential not sent there", async () => {
  const other = await fakeHTTP((_q, res) => json(res, 200, allowBody));
  const fake = await fakeHTTP((_q, res) => {
    res.writeHead(307, { Location: `${other.url}/v1/actions/check` });
    res.end();
  });
  try {
    await assert.rejects(client(fake.url).actions.check(check), (e) => e instanceof TransportError && e.code === "redirect");
    assert.equal(other.requests, 0);
  } finally {
    await fake.close();
    await other.close();
  }
});

// Whatever stands between the client and the server (a proxy, a debugging
// endpoint, a baseUrl pointing at the wrong service) may reflect the
// request in its answer: the bearer API key, the credential a check
// presents. guardTool hands the error to the model as the tool's error,
// and errors reach logs: no credential may be in one. The rest of the
// text stays.
const echoKey = "atk_" + "Zq3".repeat(12);
const echoPresented = "att_" + "AgEEdGVzdA".repeat(5);
const echoJWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJl";
const echoCases: [string, number, string | undefined][] = [
  ["400", 400, undefined],
  ["401", 401, undefined],
  ["403", 403, undefined],
  ["500", 500, undefined],
  ["503, retried", 503, undefined],
  ["malformed 200", 200, "effect"],
];
for (const [name, status, into] of echoCases) {
  test(`attack: a ${name} echoing the request quotes no credential in the error`, async () => {
    const fake = await fakeHTTP((req, res, f) => {
      const echoed = `you sent: ${JSON.stringify(req.headers)} ${f.lastBody} and ${echoJWT}`;
      if (into) json(res, status, { ...allowBody, [into]: echoed });
      else json(res, status, { error: { code: "bad", message: echoed } });
    });
    try {
      const cl = new AgentTrustClient({ baseUrl: fake.url, apiKey: echoKey, timeoutMs, retries: 1, backoffMs: { first: 1, max: 5 } });
      let ran = 0;
      const t = guardTool(cl, "docs.read", { execute: async (_input: unknown, _o: unknown) => ran++ }, { context: { agentId: "agent-1", credential: echoPresented } });
      const calls: [string, () => Promise<unknown>][] = [
        ["check", () => cl.actions.check({ ...check, credential: echoPresented })],
        ["guardTool", () => Promise.resolve(t.execute!({}, { toolCallId: "t1", messages: [] }))],
      ];
      for (const [what, call] of calls) {
        await assert.rejects(call(), (e) => {
          assert.ok(e instanceof AgentTrustError, `${what}: ${String(e)}`);
          const text = `${String(e)} ${e.message} ${JSON.stringify(e)} ${String(e.cause ?? "")}`;
          for (const secret of [echoKey, echoPresented, echoJWT]) {
            assert.ok(!text.includes(secret.slice(0, 12)), `${what}: a credential's start is in the error: ${text}`);
          }
          if (!into) assert.match(text, /you sent/, `${what}: the rest of the text stays`);
          return true;
        });
      }
      assert.equal(ran, 0, "the tool ran");
    } finally {
      await fake.close();
    }
  });
}

test("fails closed: approvals.wait believes no malformed approval", async () => {
  const approval = {
    id: "apr_1", agent_id: "agent-1", session_id: "", on_behalf_of: "", tool_name: "docs.read", resource: "", attributes: {},
    rule_id: "r", reason: "", approvers: [], status: "approved", created_at: "2026-01-01T00:00:00Z", expires_at: "2099-01-01T00:00:00Z",
    decided_by: "root", note: "",
  };
  const answers: [string, unknown][] = [
    ["status unknown", { ...approval, status: "granted" }],
    ["another approval's id", { ...approval, id: "apr_2" }],
    ["status missing", { ...approval, status: undefined }],
    ["attributes a string", { ...approval, attributes: "x" }],
  ];
  for (const [name, body] of answers) {
    const fake = await fakeHTTP((_q, res) => json(res, 200, body));
    try {
      await assert.rejects(client(fake.url).approvals.wait("apr_1", { timeoutMs: 1_000 }), (e) => e instanceof TransportError && e.code === "malformed_response", name);
    } finally {
      await fake.close();
    }
  }
  // A server that answers every long poll at once, still pending, gets
  // asked about once a second, not in a busy loop, until the wait ends.
  const early = await fakeHTTP((_q, res) => json(res, 200, { ...approval, status: "pending" }));
  try {
    await assert.rejects(client(early.url).approvals.wait("apr_1", { timeoutMs: 1_500 }), (e) => e instanceof AgentTrustError && e.code === "approval_timeout");
    assert.ok(early.requests >= 2 && early.requests <= 3, `${early.requests} polls in 1.5 s`);
  } finally {
    await early.close();
  }
  // The control: the same answer, well formed, is believed.
  const fake = await fakeHTTP((_q, res) => json(res, 200, approval));
  try {
    assert.equal((await client(fake.url).approvals.wait("apr_1", { timeoutMs: 1_000 })).status, "approved");
  } finally {
    await fake.close();
  }
});

// An answer about another approval (a misrouting proxy or cache), or
// whose status contradicts the verb, is refused by every call that names
// an approval, as approvals.wait and the Python client refuse it.
const otherAnswers: { name: string; call: "get" | "approve" | "deny"; id: string; status: string; ok?: true }[] = [
  { name: "get answered about another approval", call: "get", id: "apr_benign", status: "pending" },
  { name: "approve answered about another approval", call: "approve", id: "apr_benign", status: "approved" },
  { name: "deny answered about another approval", call: "deny", id: "apr_benign", status: "denied" },
  { name: "approve answered denied", call: "approve", id: "apr_victim", status: "denied" },
  { name: "approve answered pending", call: "approve", id: "apr_victim", status: "pending" },
  { name: "approve answered consumed", call: "approve", id: "apr_victim", status: "consumed" },
  { name: "deny answered approved", call: "deny", id: "apr_victim", status: "approved" },
  { name: "deny answered pending", call: "deny", id: "apr_victim", status: "pending" },
  { name: "control: get answered about it", call: "get", id: "apr_victim", status: "pending", ok: true },
  { name: "control: approve answered approved", call: "approve", id: "apr_victim", status: "approved", ok: true },
  { name: "control: deny answered denied", call: "deny", id: "apr_victim", status: "denied", ok: true },
];

for (const c of otherAnswers) {
  test(`fails closed: approvals.${c.call} of apr_victim: ${c.name}`, async () => {
    const fake = await fakeHTTP((_q, res) => json(res, 200, {
      id: c.id, agent_id: "bot", session_id: "", on_behalf_of: "", tool_name: "payments.charge", resource: "acct",
      attributes: { amount: 5 }, rule_id: "big-charges", reason: "", approvers: ["*"], status: c.status,
      created_at: "2026-01-01T00:00:00Z", expires_at: "2099-01-01T00:00:00Z", decided_by: "", note: "",
    }));
    try {
      const call = client(fake.url).approvals[c.call]("apr_victim");
      if (c.ok) assert.equal((await call).status, c.status);
      else await assert.rejects(call, (e) => e instanceof TransportError && e.code === "malformed_response");
    } finally {
      await fake.close();
    }
  });
}

// A number of many digits in an answer: reading its value took time
// quadratic in its run of zeros, on the event loop, where no timeout
// reaches. A 64 KiB check answer held the caller for seconds, and an
// approval of a few hundred KiB (answers may be 4 MiB) for minutes; a
// server or anything in front of it could stall the agent's process. The
// answer is read in time linear in its size, and refused or shown as it is.
const longNumber = (digits: number) => "1" + "0".repeat(digits) + "1";
const slowNumbers: { name: string; body: string; call: (c: AgentTrustClient) => Promise<unknown>; ok?: (v: unknown) => void }[] = [
  { name: "a check answer whose staleness_ns has 64 K digits", call: (c) => c.actions.check(check),
    body: JSON.stringify(allowBody).replace('"staleness_ns":0', `"staleness_ns":${longNumber(65_000)}`) },
  { name: "a check answer with an extra member of 64 K digits", call: (c) => c.actions.check(check), ok: (d) => assert.equal((d as Decision).allowed, true),
    body: JSON.stringify(allowBody).replace("{", `{"x":${longNumber(65_000)},`) },
  { name: "an approval attribute of 200 K digits", call: (c) => c.approvals.get("apr_1"),
    ok: (a) => assert.equal((a as Approval).attributes["amount"], longNumber(200_000), "shown as its text"),
    body: JSON.stringify({
      id: "apr_1", agent_id: "bot", session_id: "", on_behalf_of: "", tool_name: "payments.charge", resource: "", attributes: { amount: 0 },
      rule_id: "r", reason: "", approvers: [], status: "pending", created_at: "2026-01-01T00:00:00Z", expires_at: "2099-01-01T00:00:00Z", decided_by: "", note: "",
    }).replace('"amount":0', `"amount":${longNumber(200_000)}`) },
];
for (const c of slowNumbers) {
  test(`attack: ${c.name} is read in linear time`, async () => {
    const fake = await fakeHTTP((_q, res) => json(res, 200, c.body));
    try {
      const start = Date.now();
      const call = c.call(client(fake.url));
      if (c.ok) {
        c.ok(await call);
      } else {
        await assert.rejects(call, (e) => e instanceof TransportError && e.code === "malformed_response");
      }
      const took = Date.now() - start;
      assert.ok(took < timeoutMs + 1_500, `the answer held the caller ${took} ms`);
    } finally {
      await fake.close();
    }
  });
}

// Attribute numbers past what a JS number holds exactly, as the server
// sends them back (it keeps a number's text): each call that reads an
// approval must show the number sent, a bigint for an integer and the
// exact text for a decimal, never a rounded number. The last ones are
// controls, numbers that stay numbers.
const exactNumbers: { text: string; want: unknown }[] = [
  { text: "9007199254740993", want: 9007199254740993n },
  { text: "-9007199254740993", want: -9007199254740993n },
  { text: "123456789012345678901234567890", want: 123456789012345678901234567890n },
  { text: "9.007199254740993e15", want: 9007199254740993n },
  { text: "1e400", want: 10n ** 400n },
  { text: "0.10000000000000001", want: "0.10000000000000001" },
  { text: "9007199254740993.5", want: "9007199254740993.5" },
  { text: "1e-400", want: "1e-400" },
  { text: "9007199254740991", want: 9007199254740991 },
  { text: "1.0", want: 1 },
  { text: "1e2", want: 100 },
  { text: "0.1", want: 0.1 },
  { text: "-0", want: -0 },
];

for (const { text, want } of exactNumbers) {
  test(`fails closed: approvals show the attribute number ${text} as the server sent it`, async () => {
    const body = (status: string) => JSON.stringify({
      id: "apr_1", agent_id: "agent-1", session_id: "", on_behalf_of: "", tool_name: "payments.charge", resource: "",
      attributes: { amount: "@", items: [{ n: "@" }] }, rule_id: "r", reason: "", approvers: ["*"], status,
      created_at: "2026-01-01T00:00:00Z", expires_at: "2099-01-01T00:00:00Z", decided_by: "", note: "",
    }).replaceAll('"@"', text);
    const fake = await fakeHTTP((req, res) => {
      const url = req.url ?? "";
      if (url.endsWith("/approve")) json(res, 200, body("approved"));
      else if (url.endsWith("/deny")) json(res, 200, body("denied"));
      else if (url.startsWith("/v1/approvals?")) json(res, 200, `{"approvals":[${body("pending")}]}`);
      else json(res, 200, body(url.includes("wait=") ? "approved" : "pending"));
    });
    try {
      // Not a test of timeouts: room for a loaded machine.
      const c = client(fake.url, { timeoutMs: 5_000 });
      const shown: [string, Record<string, unknown>][] = [
        ["get", (await c.approvals.get("apr_1")).attributes],
        ["list", (await c.approvals.list({ status: "pending" }))[0]!.attributes],
        ["wait", (await c.approvals.wait("apr_1", { timeoutMs: 1_000 })).attributes],
        ["approve", (await c.approvals.approve("apr_1")).attributes],
        ["deny", (await c.approvals.deny("apr_1")).attributes],
      ];
      for (const [call, attrs] of shown) {
        assert.deepEqual(attrs, { amount: want, items: [{ n: want }] }, `${call} showed ${String(attrs["amount"])} for ${text}`);
      }
    } finally {
      await fake.close();
    }
  });
}

test("retries: a check is repeated after a 503 and believed once well answered; an exchange is never repeated", async () => {
  let n = 0;
  const fake = await fakeHTTP((_q, res) => (n++ === 0 ? json(res, 503, { error: { code: "closed", message: "x" } }) : json(res, 200, allowBody)));
  try {
    assert.equal((await client(fake.url, { retries: 1 }).actions.check(check)).allowed, true);
    assert.equal(fake.requests, 2);
  } finally {
    await fake.close();
  }
  const down = await fakeHTTP((_q, res) => json(res, 503, { error: { code: "closed", message: "x" } }));
  try {
    await assert.rejects(client(down.url, { retries: 3 }).tokens.exchange(), (e) => e instanceof TransportError && e.status === 503);
    assert.equal(down.requests, 1);
  } finally {
    await down.close();
  }
});

test(`at least 20 broken-server cases for a check (${cases.length + 1} here)`, () => {
  assert.ok(cases.length + 1 >= 20);
});
