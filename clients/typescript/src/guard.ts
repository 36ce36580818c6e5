// guard(): an async function that runs only when the server allows it.
// Identity travels in an explicit context object (or a function of the
// call's arguments), not in AsyncLocalStorage, so the same code runs in
// Node and in browsers.

import type { AgentTrustClient } from "./client.js";
import { AgentTrustError, ApprovalRequiredError, DeniedError } from "./errors.js";
import type { CheckRequest, Decision, Identity, JsonValue } from "./types.js";

/** A value, or a function of the guarded call's arguments giving it. */
export type PerCall<A extends unknown[], T> = T | ((...args: A) => T);

/** How long to wait for a human when a check answers needs_approval. */
export interface WaitOptions {
  /** Give up after this long (default: until the approval is decided or lapses). */
  timeoutMs?: number | undefined;
}

export interface AuthorizeOptions {
  signal?: AbortSignal | undefined;
  /**
   * On needs_approval, wait for the decision and check again (the
   * server's grant then allows the same action once). Absent or false:
   * throw ApprovalRequiredError at once.
   */
  waitForApproval?: WaitOptions | boolean | undefined;
}

export interface GuardOptions<A extends unknown[]> extends Omit<AuthorizeOptions, "signal"> {
  /** Who acts: agentId, sessionId, onBehalfOf, credential. */
  context?: PerCall<A, Identity | undefined>;
  resource?: PerCall<A, string | undefined>;
  attributes?: PerCall<A, Record<string, JsonValue> | undefined>;
  /** Aborts the check (and the wait for an approval). */
  signal?: PerCall<A, AbortSignal | undefined>;
}

/**
 * authorize checks req and resolves with the allowing decision, or
 * throws: DeniedError on a deny, ApprovalRequiredError on a hold not
 * granted, and the check's own error (TransportError, AuthError, ...)
 * when there is no decision. It never resolves with anything but an
 * allow. A resource not in Unicode NFC, the form the server judges, is
 * refused (AgentTrustError "invalid_request") before any check.
 */
export async function authorize(client: AgentTrustClient, req: CheckRequest, opts: AuthorizeOptions = {}): Promise<Decision> {
  // The server judges a resource in NFC; the caller then acts on the text
  // it was given. Where the two differ ("cafe\u0301" against "caf\u00e9"),
  // a file system that tells them apart holds two files: the check would
  // allow one and the caller open the other.
  if (typeof req?.resource === "string" && req.resource.normalize("NFC") !== req.resource) {
    throw new AgentTrustError("invalid_request", `authorize: resource ${JSON.stringify(req.resource)} is not in Unicode NFC, the form the check judges; pass it as ${JSON.stringify(req.resource.normalize("NFC"))}`);
  }
  const signal = opts.signal;
  const d = await client.actions.check(req, { signal });
  if (d.allowed) return d;
  if (d.effect !== "needs_approval") throw new DeniedError(d);
  if (!opts.waitForApproval) throw new ApprovalRequiredError(d);
  const timeoutMs = typeof opts.waitForApproval === "object" ? opts.waitForApproval.timeoutMs : undefined;
  let a;
  try {
    a = await client.approvals.wait(d.approvalId, { signal, timeoutMs });
  } catch (e) {
    if (e instanceof AgentTrustError && e.code === "approval_timeout") throw new ApprovalRequiredError(d, e.message.replace(/^agenttrust: /, ""));
    throw e;
  }
  if (a.status === "denied") {
    throw new DeniedError({ ...d, allowed: false, effect: "deny", reason: `approval ${a.id} denied${a.decidedBy ? ` by ${a.decidedBy}` : ""}${a.note ? `: ${a.note}` : ""}` });
  }
  const again = await client.actions.check(req, { signal });
  if (again.allowed) return again;
  if (again.effect === "needs_approval") throw new ApprovalRequiredError(again);
  throw new DeniedError(again);
}

function resolve<A extends unknown[], T>(v: PerCall<A, T> | undefined, args: A): T | undefined {
  return typeof v === "function" ? (v as (...args: A) => T)(...args) : v;
}

/**
 * guard returns fn wrapped: each call is first checked as toolName (with
 * the options' identity, resource and attributes for those arguments),
 * and fn runs only on an allow. Otherwise the call rejects, fn not run,
 * as authorize says.
 *
 *     const send = guard(client, "email.send", sendEmail, {
 *       context: { agentId: "agent-123", sessionId: "session-abc" },
 *       resource: (to) => to,
 *     });
 */
export function guard<A extends unknown[], R>(
  client: AgentTrustClient,
  toolName: string,
  fn: (...args: A) => R | PromiseLike<R>,
  opts: GuardOptions<A> = {},
): (...args: A) => Promise<Awaited<R>> {
  if (typeof toolName !== "string" || toolName === "") throw new AgentTrustError("invalid_config", "guard: a tool name is required");
  if (typeof fn !== "function") throw new AgentTrustError("invalid_config", "guard: fn is not a function");
  return async (...args: A): Promise<Awaited<R>> => {
    const req: CheckRequest = { ...resolve(opts.context, args), toolName };
    const resource = resolve(opts.resource, args);
    if (resource !== undefined) req.resource = resource;
    const attributes = resolve(opts.attributes, args);
    if (attributes !== undefined) req.attributes = attributes;
    await authorize(client, req, { signal: resolve(opts.signal, args), waitForApproval: opts.waitForApproval });
    return await fn(...args);
  };
}
