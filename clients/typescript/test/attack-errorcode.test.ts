// Attack: a credential echoed into the parts of an error or a decision
// other than the error's message: an error body's code, a deny's error
// and reason.

import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { AgentTrustClient, AgentTrustError, guardTool } from "../src/index.js";
import { allowBody, fakeHTTP, json } from "./fakes.js";

// A proxy, an echo service or a hostile endpoint reflects the request
// (the bearer API key, the credential a check presents) into an error
// body's code, or into a deny's error or reason, rather than the
// message the client redacts. The error's code and its decision are own
// properties: console.log and util.inspect print them, JSON.stringify
// sends them on. A key of any shape is the client's to keep: an opaque
// gateway key is not caught by the agenttrust credential pattern.
const keys: [string, string][] = [
  ["an agenttrust key", "atk_" + "Zq3".repeat(12)],
  ["an opaque key", "gw-9f8e7d6c5b4a39281706f5e4d3c2b1a0"],
];
const presented = "att_" + "AgEEdGVzdA".repeat(5);
const cases: [string, number, "code" | "error" | "reason"][] = [
  ["a 400 echoing the request in its code", 400, "code"],
  ["a 401 echoing the request in its code", 401, "code"],
  ["a 500 echoing the request in its code", 500, "code"],
  ["a deny echoing the request in its error", 200, "error"],
  ["a deny echoing the request in its reason", 200, "reason"],
];

for (const [kname, key] of keys) {
  for (const [name, status, into] of cases) {
    test(`attack: ${name} (${kname}) quotes no credential in the error or decision`, async () => {
      const fake = await fakeHTTP((req, res, f) => {
        const echoed = `you sent: ${JSON.stringify(req.headers)} ${f.lastBody}`;
        if (into === "code") json(res, status, { error: { code: echoed, message: "bad" } });
        else json(res, 200, { ...allowBody, allowed: false, effect: "deny", reason: "denied", error: "unauthenticated", [into]: echoed });
      });
      try {
        const cl = new AgentTrustClient({ baseUrl: fake.url, apiKey: key, timeoutMs: 2_000, retries: 0 });
        let ran = 0;
        const t = guardTool(cl, "docs.read", { execute: async (_input: unknown, _o: unknown) => ran++ }, { context: { agentId: "agent-1", credential: presented } });
        const texts: string[] = [];
        try {
          const d = await cl.actions.check({ agentId: "agent-1", toolName: "docs.read", credential: presented });
          assert.equal(d.allowed, false);
          texts.push(JSON.stringify(d), inspect(d));
        } catch (e) {
          assert.ok(e instanceof AgentTrustError, String(e));
          texts.push(String(e), JSON.stringify(e), inspect(e));
        }
        await assert.rejects(Promise.resolve(t.execute!({}, { toolCallId: "t1" })), (e) => {
          assert.ok(e instanceof AgentTrustError, String(e));
          texts.push(String(e), JSON.stringify(e), inspect(e));
          return true;
        });
        assert.equal(ran, 0, "the tool ran");
        const text = texts.join(" ");
        for (const secret of [key, presented]) {
          assert.ok(!text.includes(secret.slice(0, 12)), `a credential's start is in the error: ${text}`);
        }
        assert.match(text, /you sent/, "the rest of the text stays");
      } finally {
        await fake.close();
      }
    });
  }
}
