// Attack: a credential echoed as a needs-approval's approval id.

import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { AgentTrustClient, AgentTrustError, ApprovalRequiredError, TransportError, guardTool } from "../src/index.js";
import { allowBody, fakeHTTP, json } from "./fakes.js";

// ApprovalRequiredError quotes the approval id ("(approval <id>)"), which
// the AI SDK hands the model as the tool's error, and keeps it as
// approvalId. The client took any id starting "apr_": a hostile endpoint,
// or one reflecting the request, answered needs_approval with the bearer
// API key or the presented credential inside such an id, and the model
// was shown it. An approval id holding anything a credential redactor
// takes out is now a malformed answer.
const keys: [string, string][] = [
  ["an agenttrust key", "atk_" + "Zq3".repeat(12)],
  ["an opaque key", "gw-9f8e7d6c5b4a39281706f5e4d3c2b1a0"],
];
const presented = "att_" + "AgEEdGVzdA".repeat(5);

for (const [kname, key] of keys) {
  const cases: [string, string, boolean][] = [
    ["the key inside an apr_ id", "apr_" + key, false],
    ["the presented credential inside an apr_ id", "apr_" + presented, false],
    ["control: an approval id", "apr_0123456789abcdef", true],
  ];
  for (const [name, approvalId, held] of cases) {
    test(`attack: a needs_approval with ${name} (${kname}) quotes no credential`, async () => {
      const fake = await fakeHTTP((_req, res) => json(res, 200, { ...allowBody, allowed: false, effect: "needs_approval", reason: "held", approval_id: approvalId }));
      try {
        const cl = new AgentTrustClient({ baseUrl: fake.url, apiKey: key, timeoutMs: 2_000, retries: 0 });
        let ran = 0;
        const t = guardTool(cl, "docs.read", { execute: async (_input: unknown, _o: unknown) => ran++ }, { context: { agentId: "agent-1", credential: presented } });
        await assert.rejects(Promise.resolve(t.execute!({}, { toolCallId: "t1" })), (e) => {
          assert.ok(e instanceof AgentTrustError, String(e));
          if (held) assert.ok(e instanceof ApprovalRequiredError && e.message.includes(approvalId), String(e));
          else assert.ok(e instanceof TransportError && e.code === "malformed_response", String(e));
          const text = `${String(e)} ${JSON.stringify(e)} ${inspect(e)}`;
          for (const secret of [key, presented]) {
            assert.ok(!text.includes(secret.slice(0, 12)), `a credential's start is in the error: ${text}`);
          }
          return true;
        });
        assert.equal(ran, 0, "the tool ran");
      } finally {
        await fake.close();
      }
    });
  }
}
