// A client generated from api/openapi.yaml by openapi-typescript, with
// openapi-fetch, drives the first hour of the API against a server:
// create an agent's key, store a policy, check an allowed, a denied and
// a held action, approve the held one. internal/apispec's
// TestTypeScriptClient builds this file with `tsc --strict` and runs it
// with `node --test` against a server whose every request and response
// is validated against the spec; AGENTTRUST_URL and AGENTTRUST_ADMIN_KEY
// say where, and as whom.
import { test } from "node:test";
import assert from "node:assert/strict";
import createClient from "openapi-fetch";
import type { components, paths } from "./gen/api.js";

type CheckRequest = components["schemas"]["CheckRequest"];
type Decision = components["schemas"]["CheckResponse"];
type ErrorCode = components["schemas"]["ErrorCode"];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const baseUrl = env("AGENTTRUST_URL");

function client(key: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key}` } });
}

const policy = `rules:
  - id: read
    effect: allow
    tools: [docs.read]
  - id: pay
    effect: needs_approval
    tools: [payments.charge]
    reason: payments need a human
  - id: no-delete
    effect: deny
    tools: [docs.delete]
    reason: never
`;

test("create key, policy, check (allow, deny, needs approval), approve", async () => {
  const admin = client(env("AGENTTRUST_ADMIN_KEY"));

  const key = await admin.POST("/v1/keys", { body: { agent_id: "ts-bot", name: "typescript" } });
  assert.equal(key.response.status, 201, JSON.stringify(key.error));
  assert.ok(key.data);
  assert.match(key.data.secret, /^atk_/);
  assert.deepEqual(key.data.key.roles, ["agent"]);
  const bot = client(key.data.secret);

  const current = await admin.GET("/v1/policy");
  const expect_version = current.data?.version ?? 0;
  const put = await admin.PUT("/v1/policy", { body: { format: "yaml", body: policy, expect_version } });
  assert.equal(put.response.status, 200, JSON.stringify(put.error));
  assert.equal(put.data?.version, expect_version + 1);

  async function check(body: CheckRequest): Promise<Decision> {
    const r = await bot.POST("/v1/actions/check", { body });
    assert.equal(r.response.status, 200, JSON.stringify(r.error));
    assert.ok(r.data);
    return r.data;
  }
  const allowed = await check({ tool_name: "docs.read", resource: "doc-1" });
  assert.equal(allowed.effect, "allow");
  assert.equal(allowed.allowed, true);
  assert.equal(allowed.rule_id, "read");

  const denied = await check({ tool_name: "docs.delete", resource: "doc-1" });
  assert.equal(denied.effect, "deny");
  assert.equal(denied.allowed, false);

  const held = await check({ tool_name: "payments.charge", resource: "cust-1", attributes: { amount: 90 } });
  assert.equal(held.effect, "needs_approval");
  assert.match(held.approval_id, /^apr_/);
  const id = held.approval_id;

  // The agent cannot approve its own request: a typed error.
  const self = await bot.POST("/v1/approvals/{id}/approve", { params: { path: { id } } });
  assert.equal(self.response.status, 403);
  const code: ErrorCode | undefined = self.error?.error.code;
  assert.equal(code, "forbidden");

  const pending = await bot.GET("/v1/approvals", { params: { query: { status: "pending" } } });
  assert.ok(pending.data?.approvals.some((a) => a.id === id));

  const approved = await admin.POST("/v1/approvals/{id}/approve", { params: { path: { id } }, body: { note: "ok" } });
  assert.equal(approved.response.status, 200, JSON.stringify(approved.error));
  assert.equal(approved.data?.status, "approved");
  assert.equal(approved.data?.decided_by, "root");

  const seen = await bot.GET("/v1/approvals/{id}", { params: { path: { id }, query: { wait: "1s" } } });
  assert.equal(seen.data?.status, "approved");
});
