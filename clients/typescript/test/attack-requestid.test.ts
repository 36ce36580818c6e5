// Attack: a credential echoed into an answer's X-Request-Id.

import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { AgentTrustClient, AgentTrustError, guardTool } from "../src/index.js";
import { allowBody, fakeHTTP } from "./fakes.js";

// The client keeps an answer's X-Request-Id (naming the call in the
// server's log) as the error's requestId, which util.inspect
// (console.log) and JSON.stringify print. It took the header as sent:
// an answer naming the bearer or the presented credential as its
// request id put the credential into the error. Such an id, or one
// that is not an id at all, is now dropped; an ordinary one is kept.
const key = "atk_" + "Zq3".repeat(12);
const presented = "att_" + "AgEEdGVzdA".repeat(5);
const cases: [string, number, string, string | undefined][] = [
  ["an error naming the key", 400, key, undefined],
  ["an error naming the presented credential", 400, presented, undefined],
  ["a malformed answer naming the key", 200, key, undefined],
  ["control: an error naming an ordinary id", 400, "req-7", "req-7"],
];

for (const [name, status, rid, want] of cases) {
  test(`attack: ${name} as its request id quotes no credential in the error`, async () => {
    const fake = await fakeHTTP((_req, res) => {
      const b = JSON.stringify(status === 200 ? { ...allowBody, effect: "deny" } : { error: { code: "bad", message: "bad" } });
      res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(b), "X-Request-Id": rid });
      res.end(b);
    });
    try {
      const cl = new AgentTrustClient({ baseUrl: fake.url, apiKey: key, timeoutMs: 2_000, retries: 0 });
      let ran = 0;
      const t = guardTool(cl, "docs.read", { execute: async (_input: unknown, _o: unknown) => ran++ }, { context: { agentId: "agent-1", credential: presented } });
      const texts: string[] = [];
      const seen: (string | undefined)[] = [];
      const calls: (() => Promise<unknown>)[] = [
        () => cl.actions.check({ agentId: "agent-1", toolName: "docs.read", credential: presented }),
        () => Promise.resolve(t.execute!({}, { toolCallId: "t1" })),
      ];
      for (const call of calls) {
        await assert.rejects(call(), (e) => {
          assert.ok(e instanceof AgentTrustError, String(e));
          texts.push(String(e), JSON.stringify(e), inspect(e));
          seen.push(e.requestId);
          return true;
        });
      }
      assert.equal(ran, 0, "the tool ran");
      const text = texts.join(" ");
      for (const secret of [key, presented]) {
        assert.ok(!text.includes(secret.slice(0, 12)), `a credential's start is in the error: ${text}`);
      }
      assert.deepEqual(seen, [want, want]);
    } finally {
      await fake.close();
    }
  });
}
