// Attack: an allow about another agent than the checked credential's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { AgentTrustClient, AgentTrustError } from "../src/index.js";
import { allowBody, fakeHTTP } from "./fakes.js";

// A check naming no agent is about the agent its credential names (the
// presented one, else the client's own). The client compared the
// answer's agent only with agentId, so with none given it took an allow
// a cache, a replaying proxy or a hostile endpoint gave mallory as the
// allow of a check of planner's token or JWT.

// testdata/token_vectors.json: a token whose caveats say "agent = planner".
const token =
  "att_AgJFYXQxfHRva19seXk1NnZ5bzR4Z2liZHJnczZ1bTJwbHlucXxrZXlfZG5mdDZtenhsdXVxdXN1MjV2a3JnbWs1Mnl8bWsxAAIQdGVuYW" +
  "50ID0gZGVmYXVsdAACD2FnZW50ID0gcGxhbm5lcgACHmV4cGlyZXMgPCAyMDI2LTExLTIyVDA1OjA1OjAwWgACEGlwIGluIDEwLjAuMC4wLzgAAAYg" +
  "AC3cmtWXvQaIdggc3GEtMkpG2MnCNB80mJFCQ2dvxi0";
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
// A JWT naming planner; the client reads it unverified, the server verifies it.
const jwt = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub: "planner", aud: "agenttrust" })}.${"c2ln".repeat(11)}`;
const key = "atk_" + "Zq3".repeat(12);

const cases: [string, string, string | undefined, string, boolean, boolean][] = [
  ["presented token, allow for mallory", key, token, "mallory", true, false],
  ["presented JWT, allow for mallory", key, jwt, "mallory", true, false],
  ["own token, allow for mallory", token, undefined, "mallory", true, false],
  ["own JWT, allow for mallory", jwt, undefined, "mallory", true, false],
  ["control: presented token, allow for planner", key, token, "planner", true, true],
  ["control: own JWT, allow for planner", jwt, undefined, "planner", true, true],
  ["control: own token, deny for mallory", token, undefined, "mallory", false, true],
  ["control: own API key, allow for anyone", key, undefined, "mallory", true, true],
];

for (const [name, own, presented, agent, allowed, ok] of cases) {
  test(`attack: ${name}`, async () => {
    const fake = await fakeHTTP((_req, res) => {
      const b = JSON.stringify({ ...allowBody, allowed, effect: allowed ? "allow" : "deny", agent_id: agent });
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(b) });
      res.end(b);
    });
    try {
      const cl = new AgentTrustClient({ baseUrl: fake.url, apiKey: own, timeoutMs: 2_000, retries: 0 });
      const check = () => cl.actions.check({ toolName: "docs.read", credential: presented });
      if (ok) {
        assert.equal((await check()).allowed, allowed);
      } else {
        await assert.rejects(check(), (e) => e instanceof AgentTrustError && e.code === "malformed_response");
      }
    } finally {
      await fake.close();
    }
  });
}
