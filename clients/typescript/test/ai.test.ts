// guardTool with the real Vercel AI SDK ("ai", a devDependency only):
// generateText with a mock model that calls a tool, the tool guarded
// against a real `agenttrust serve`. The SDK runs execute itself, so
// this is the path an agent takes.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateText, tool, jsonSchema } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { AgentTrustClient, ApprovalRequiredError, DeniedError, TransportError, guardTool } from "../src/index.js";
import { startServer, type Server } from "./server.js";

let srv: Server;
let bot: AgentTrustClient;

before(async () => {
  srv = await startServer();
  const admin = new AgentTrustClient({ baseUrl: srv.url, apiKey: srv.adminKey });
  const k = await admin.keys.create({ agentId: "ai-bot" });
  bot = new AgentTrustClient({ baseUrl: srv.url, apiKey: k.secret });
});

after(async () => {
  await srv?.stop();
});

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/** A model whose one answer is a call of toolName with input. */
function callingModel(toolName: string, input: unknown) {
  return new MockLanguageModelV3({
    doGenerate: async () => ({
      content: [{ type: "tool-call", toolCallId: "call-1", toolName, input: JSON.stringify(input) }],
      finishReason: { unified: "tool-calls", raw: "tool_calls" },
      usage,
      warnings: [],
    }),
  });
}

type Charge = { customer: string; amount: number };

function chargeTool(log: string[]) {
  return tool({
    description: "Charge a customer",
    inputSchema: jsonSchema<Charge>({
      type: "object",
      properties: { customer: { type: "string" }, amount: { type: "number" } },
      required: ["customer", "amount"],
      additionalProperties: false,
    }),
    execute: async ({ customer, amount }: Charge) => {
      log.push(`${customer}:${amount}`);
      return { charged: amount };
    },
  });
}

async function run(toolName: string, input: Charge, log: string[]) {
  const guarded = guardTool(bot, "payments.charge", chargeTool(log), {
    resource: (i: Charge) => i.customer,
    attributes: (i: Charge) => ({ amount: i.amount }),
  });
  const result = await generateText({ model: callingModel(toolName, input), prompt: "charge", tools: { charge: guarded } });
  return result.steps[0]!.content;
}

test("guardTool: an allowed call runs the tool inside generateText", async () => {
  const log: string[] = [];
  const content = await run("charge", { customer: "cust-1", amount: 20 }, log);
  assert.deepEqual(log, ["cust-1:20"]);
  const r = content.find((p) => p.type === "tool-result");
  assert.ok(r, JSON.stringify(content));
  assert.deepEqual(r.output, { charged: 20 });
});

test("guardTool: a held call does not run; the model gets ApprovalRequiredError as the tool's error", async () => {
  const log: string[] = [];
  const content = await run("charge", { customer: "cust-1", amount: 90 }, log);
  assert.deepEqual(log, []);
  const e = content.find((p) => p.type === "tool-error");
  assert.ok(e, JSON.stringify(content));
  assert.ok(e.error instanceof ApprovalRequiredError);
  assert.match(e.error.approvalId, /^apr_/);
});

test("guardTool: a denied call does not run", async () => {
  const log: string[] = [];
  const del = guardTool(bot, "docs.delete", tool({
    inputSchema: jsonSchema<{ doc: string }>({ type: "object", properties: { doc: { type: "string" } }, required: ["doc"] }),
    execute: async ({ doc }: { doc: string }) => (log.push(doc), "deleted"),
  }));
  const result = await generateText({ model: callingModel("del", { doc: "d1" }), prompt: "delete", tools: { del } });
  const e = result.steps[0]!.content.find((p) => p.type === "tool-error");
  assert.ok(e && e.error instanceof DeniedError, JSON.stringify(result.steps[0]!.content));
  assert.equal(e.error.decision.ruleId, "no-delete");
  assert.deepEqual(log, []);
});

test("guardTool: the SDK's abortSignal aborts the check, and the tool does not run", async () => {
  const log: string[] = [];
  const ac = new AbortController();
  ac.abort();
  const guarded = guardTool(bot, "payments.charge", chargeTool(log));
  const result = await generateText({ model: callingModel("charge", { customer: "c", amount: 1 }), prompt: "x", tools: { charge: guarded }, abortSignal: ac.signal });
  const e = result.steps[0]!.content.find((p) => p.type === "tool-error");
  assert.ok(e && e.error instanceof TransportError && e.error.code === "aborted", JSON.stringify(result.steps[0]!.content));
  assert.deepEqual(log, []);
});
