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

/**
 * The base of every error the client throws. `code` is the API's error
 * code (api/openapi.yaml ErrorCode: "invalid_request", "not_found",
 * "conflict", ...) when the server sent one, else one of the client's:
 * "unreachable", "timeout", "aborted", "malformed_response", "redirect",
 * "denied", "approval_required", "approval_timeout".
 */
export class AgentTrustError extends Error {
  override name = "AgentTrustError";
  readonly code: string;
  readonly status: number;
  readonly requestId: string | undefined;

  constructor(code: string, message: string, detail: ErrorDetail = {}) {
    super(`agenttrust: ${message}`, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.code = code;
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
