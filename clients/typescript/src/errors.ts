// The errors of the client. Every failure is an AgentTrustError, so a
// caller that catches that one class catches every way a call can fail;
// the subclasses say which way. A deny or a hold for approval is a
// Decision returned by actions.check, not an error: guard() and
// guardTool() turn them into DeniedError and ApprovalRequiredError.

import type { Decision } from "./types.js";

/** Options common to the error constructors. */
export interface ErrorDetail {
  /** The HTTP status of the answer, 0 when there was none. */
  status?: number | undefined;
  /** The X-Request-Id of the answer, naming it in the server's logs. */
  requestId?: string | undefined;
  cause?: unknown;
}

/** What replaces a credential in an error's message. */
export const redacted = "[redacted credential]";

// An agenttrust API key, token or JWT. A token or JWT is taken only at
// the start of a run of base64url characters, so that text full of "att_"
// or "eyJ" costs linear time, not quadratic.
const credential = /atk_[A-Za-z0-9]{36}|(?<![A-Za-z0-9_-])att_[A-Za-z0-9_-]{32,}|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;

/**
 * text without the credentials a request carried (sent) and without
 * anything shaped like an agenttrust credential. A proxy or an echo
 * service between the client and the server may reflect the request in
 * its answer, and an error is shown to people, logs and models.
 */
export function redact(text: string, ...sent: (string | undefined)[]): string {
  for (const s of sent) {
    if (s) text = text.split(s).join(redacted);
  }
  return text.includes("_") || text.includes("eyJ") ? text.replace(credential, redacted) : text;
}

/**
 * The base of every error the client throws. `code` is the API's error
 * code (api/openapi.yaml ErrorCode: "invalid_request", "not_found",
 * "conflict", ...) when the server sent one, else one of the client's:
 * "unreachable", "timeout", "aborted", "malformed_response", "redirect",
 * "denied", "approval_required", "approval_timeout". The message holds no
 * agenttrust credential (see redact).
 */
export class AgentTrustError extends Error {
  override name = "AgentTrustError";
  readonly code: string;
  readonly status: number;
  readonly requestId: string | undefined;

  constructor(code: string, message: string, detail: ErrorDetail = {}) {
    // Messages quote answers: never a credential in them.
    super(`agenttrust: ${redact(message)}`, detail.cause === undefined ? undefined : { cause: detail.cause });
    // The code may be an answer's text too, and is printed with the error.
    this.code = redact(code);
    this.status = detail.status ?? 0;
    this.requestId = detail.requestId;
  }
}

/**
 * The server refused the credential (401: missing, unknown, expired,
 * revoked, suspended) or the credential lacks the role or its caveats do
 * not cover the call (403). `code` says which ("revoked", "suspended",
 * "forbidden", "caveat", ...).
 */
export class AuthError extends AgentTrustError {
  override name = "AuthError";
}

/**
 * No trustworthy answer: the server could not be reached, the call timed
 * out or was aborted, the server failed (5xx), redirected, or answered
 * something that is not a well-formed, consistent answer. A check that
 * ends in a TransportError has no decision: treat it as a deny.
 */
export class TransportError extends AgentTrustError {
  override name = "TransportError";
}

/** A guarded action the server denied. */
export class DeniedError extends AgentTrustError {
  override name = "DeniedError";
  readonly decision: Decision;

  constructor(decision: Decision) {
    super("denied", decision.reason || "denied");
    this.decision = decision;
  }
}

/**
 * A guarded action held for a human's approval, not granted (yet).
 * `approvalId` names the pending approval: wait for it with
 * client.approvals.wait, then call the guarded function again.
 */
export class ApprovalRequiredError extends AgentTrustError {
  override name = "ApprovalRequiredError";
  readonly decision: Decision;
  readonly approvalId: string;

  constructor(decision: Decision, message?: string) {
    super("approval_required", message ?? `${decision.reason || "needs approval"} (approval ${decision.approvalId})`);
    this.decision = decision;
    this.approvalId = decision.approvalId;
  }
}
